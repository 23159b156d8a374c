from autograder.command import main

raise SystemExit(main())
