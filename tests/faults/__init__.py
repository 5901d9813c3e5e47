"""The fault suite (issue 6, item 1): syncd against misbehaving sides and a failing state store."""
