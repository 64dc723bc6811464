"""A local module: lambda-ls follows the import and packages it with the handler."""


def greet(name):
    return f"Hello, {name}!"
