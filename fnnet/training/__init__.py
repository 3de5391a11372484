"""Training: the state, one update (``step``), evaluation, the compiled epochs, what the
host keeps of them (``monitor``), the data on the device, fit's plan and host loop
(``loop``), data parallelism on a mesh (``parallel``) and N networks at once
(``ensemble``)."""
