"""The Kafka clients of the relay, one home per kind (the consumer-group member is the intake's, ``intake/kafka.py``).

- ``settings``: the ``kafka`` config section.
- ``client``: the configuration of every client (connection, security, MSK IAM) and of each kind built on it.
- ``topics``: which topics exist, and creating the missing ones.
- ``bounded``: reading partitions up to end offsets fixed when the read was planned.
- ``delivery``: producer delivery reports bridged to asyncio futures (or waited for synchronously).
"""
