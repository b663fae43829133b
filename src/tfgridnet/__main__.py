from tfgridnet.cli import main

raise SystemExit(main())
