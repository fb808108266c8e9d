"""The slow suites: real worker and beat processes, gunicorn, the browser, fuzzing, soak and faults."""
