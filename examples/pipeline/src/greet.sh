#!/bin/sh
# Prints the greeting the build job stores as an artifact.
echo "${GREETING:-Hello}"
