import sys

from audit_cli import main

sys.exit(main())
