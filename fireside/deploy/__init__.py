"""`fireside deploy`: package a template's local artifacts and deploy it as a stack."""
