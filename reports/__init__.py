"""Reports: execution, close, final accounts and public disclosure."""
