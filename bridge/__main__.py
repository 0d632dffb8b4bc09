"""`python -m bridge` runs the cartbridge CLI."""
from bridge.cli import main

main()
