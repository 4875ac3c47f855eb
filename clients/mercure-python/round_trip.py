"""A Mercure round trip through clients Hearth did not write: the `mercure-publisher` package publishes (it
signs its own HS256 token, with `exp`, from the publisher key and its topic selectors), and `sseclient-py` over
`requests` subscribes with a token signed by PyJWT, as the reference hub's own Python example does.

Usage: round_trip.py <hub URL> <publisher key> <subscriber key>
Prints one JSON line with what the subscriber received; exits non-zero on any failure.
"""

import json
import sys
import threading
import time

import jwt
import requests
import sseclient
from mercure_publisher import MercureConfig, MercurePublisher

hub, publisher_key, subscriber_key = sys.argv[1:4]
topic = "https://example.com/books/{}".format(int(time.time() * 1000))

subscriber_token = jwt.encode(
    {"mercure": {"subscribe": ["https://example.com/books/{id}"]}, "iat": int(time.time())},
    subscriber_key,
    algorithm="HS256",
)
received = []
opened = threading.Event()
done = threading.Event()


def subscribe(last_event_id=None, count=2):
    headers = {"Authorization": "Bearer " + subscriber_token, "Accept": "text/event-stream"}
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    response = requests.get(
        hub, params={"topic": "https://example.com/books/{id}"}, headers=headers, stream=True, timeout=15
    )
    response.raise_for_status()
    opened.set()
    events = []
    for event in sseclient.SSEClient(response).events():
        events.append({"id": event.id, "type": event.event, "data": event.data})
        if len(events) == count:
            break
    response.close()
    return events


def first_subscriber():
    received.extend(subscribe())
    done.set()


thread = threading.Thread(target=first_subscriber, daemon=True)
thread.start()
if not opened.wait(15):
    sys.exit("the subscription did not open")

config = MercureConfig(
    hub_url=hub,
    publisher_jwt_key=publisher_key,
    publish_topics=["https://example.com/books/{id}"],
)
with MercurePublisher(config) as publisher:
    first = publisher.publish(topic, {"title": "Dune"}, type="book")
    second = publisher.publish(topic, "private note", private=True, id="urn:uuid:round-trip-" + topic[-6:])

if not done.wait(15):
    sys.exit("the subscriber did not receive both updates")
resumed = subscribe(last_event_id=first, count=1)
print(json.dumps({"ids": [first, second], "received": received, "resumed": resumed}))
