"""``python -m knowledge {index,lint,test}``."""

from .cli import main

raise SystemExit(main())
