"""Running the Python services (guardians, relayer, API) as supervised child processes."""
