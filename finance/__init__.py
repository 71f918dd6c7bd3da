"""The core: master data, classifications, and the one ledger with its posting service."""
