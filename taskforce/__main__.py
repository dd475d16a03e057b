from taskforce.cli import main

main()
