from mlstrat.cli import main

main()
