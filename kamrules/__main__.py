from kamrules.cli import main

main()
