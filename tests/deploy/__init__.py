"""Tests of the deploy scripts (deploy/) and of replaying dead-letter blobs."""
