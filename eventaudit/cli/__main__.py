import sys

from eventaudit.cli import main

sys.exit(main())
