from piyasa_tui.cli import main

raise SystemExit(main())
