"""A tiny Lambda handler: the example README deploys and invokes."""

from greeting import greet


def handler(event, context):
    name = (event or {}).get("name", "world")
    print(f"greeting {name}")
    return {"statusCode": 200, "body": greet(name)}


def add(a, b=1):
    """A plain function: deployed as a callable, the event carries its arguments."""
    return a + b


def fail(event, context):
    """Raises, to show how errors come back (and land on this line in the editor)."""
    raise ValueError(f"cannot handle {event!r}")
