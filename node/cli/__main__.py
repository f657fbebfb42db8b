"""`python -m node.cli`: the same as the `camkeep` command."""

from node.cli._main import main

raise SystemExit(main())
