"""``python -m persona``: the same CLI as the ``persona`` command."""

from persona.cli import main

if __name__ == "__main__":
    main()
