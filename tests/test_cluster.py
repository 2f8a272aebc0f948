"""Scale-out on Rasa's own stack: two Rasa processes sharing a throwaway PostgreSQL tracker
store and Redis lock store, behind nginx (deploy/cluster.py, as `make run-cluster`)."""

import asyncio
import json
import time
import urllib.error
import urllib.request
import uuid

import pytest

from deploy.cluster import running_cluster
from tests.servers import post

TURNS = [
    ("my boss lied to me", "your boss"),
    ("what are the signs?", "Struggling to hand work over"),
    ("why am I like this?", "Childhood experiences"),
    ("/start_self_check", "1/9"),
    ("yes", "2/9"),
    ("no", "3/9"),
    ("i want to kill myself", "Are you safe right now?"),
    ("/crisis_safe", "Signs"),
    ("how do I rebuild trust?", "Understand what is going on"),
    ("go on", "Speak up"),
]


REST_TOKEN = uuid.uuid4().hex


def rest(url, sender, message, token=REST_TOKEN):
    status, replies = post(
        url + "/webhooks/rest/webhook",
        json.dumps({"sender": sender, "message": message}).encode(),
        headers={"Authorization": f"Bearer {token}"},
    )
    return status, json.dumps(replies)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    log = open(tmp_path_factory.mktemp("cluster") / "cluster.log", "w")
    # nginx on every interface, as in production; everything behind it stays on loopback.
    with running_cluster(rasa_count=2, rate=20, burst=40, log=log, bind="0.0.0.0", rest_token=REST_TOKEN) as running:
        for url in running.rasa_urls:  # the first message of a process loads its model parts
            rest(url, f"warm-{uuid.uuid4().hex}", "hi")
        yield running


def test_one_conversation_alternating_between_two_processes(cluster):
    sender = f"alternate-{uuid.uuid4().hex}"
    for index, (message, expected) in enumerate(TURNS):
        status, replies = rest(cluster.rasa_urls[index % 2], sender, message)
        assert status == 200 and expected in replies, (index, message, replies[:300])
    url = f"{cluster.rasa_urls[1]}/conversations/{sender}/tracker?token={cluster.api_token}"
    with urllib.request.urlopen(url, timeout=30) as response:
        tracker = json.loads(response.read())
    said = [e["text"] for e in tracker["events"] if e["event"] == "user"]
    assert said == [message for message, _ in TURNS]  # every turn stored once, in order
    assert tracker["slots"]["relationship"] == "work"


def test_concurrent_conversations_through_nginx_have_no_errors(cluster):
    from bench.loadgen import run_load

    result = asyncio.run(run_load(cluster.public_url, concurrency=4, conversations=4, token=REST_TOKEN))
    print(f"\nthrough nginx, two Rasa processes: {result.summary()}")
    assert not result.errors and result.crisis_referred == result.crisis_turns


def test_nginx_refuses_big_bodies_and_rate_limits_a_flooding_client(cluster):
    status, _ = post(cluster.public_url + "/webhooks/rest/webhook", b"{" + b" " * 2_000_000 + b"}")
    assert status == 413

    async def flood():
        import aiohttp

        async with aiohttp.ClientSession() as session:

            async def one():
                async with session.get(cluster.public_url + "/webhooks/rest/") as response:
                    return response.status

            return await asyncio.gather(*(one() for _ in range(150)))

    statuses = asyncio.run(flood())
    assert 429 in statuses and 200 in statuses
    time.sleep(3)  # let the client's allowance refill for the tests after this one
    assert rest(cluster.public_url, f"after-flood-{uuid.uuid4().hex}", "hi")[0] == 200


def test_database_briefly_unreachable_then_recovered_without_manual_steps(cluster):
    sender = f"outage-{uuid.uuid4().hex}"
    assert rest(cluster.rasa_urls[1], sender, "my boss lied to me")[0] == 200
    cluster.postgres.stop()
    try:
        status, replies = rest(cluster.rasa_urls[0], sender, "i want to kill myself")
        assert status == 200 and "Are you safe right now?" in replies  # referral does not need the database
        status, replies = rest(cluster.rasa_urls[1], f"new-{uuid.uuid4().hex}", "hi")
        assert status == 200 and replies != "[]"
    finally:
        cluster.postgres.start()
    status, replies = rest(cluster.rasa_urls[1], sender, "what are the signs?")
    assert status == 200 and "Struggling to hand work over" in replies  # stored context is back


def test_only_nginx_faces_the_network(cluster):
    from tests.test_security import only_loopback, outward_address, refused_from_the_network

    ports = [int(url.rsplit(":", 1)[1]) for url in [cluster.action_url, *cluster.rasa_urls]]
    for port in ports:
        assert only_loopback(port) and refused_from_the_network(port), port
    public_port = int(cluster.public_url.rsplit(":", 1)[1])
    address = outward_address()
    if address is not None:  # nginx answers from the network, and REST there needs the token
        url = f"http://{address}:{public_port}/webhooks/rest/webhook"
        assert post(url, json.dumps({"sender": f"outside-{uuid.uuid4().hex}", "message": "hi"}).encode())[0] == 401
        assert rest(f"http://{address}:{public_port}", f"outside-{uuid.uuid4().hex}", "hi")[0] == 200
