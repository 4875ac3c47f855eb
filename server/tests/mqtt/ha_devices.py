"""Five devices made with ha-mqtt-discoverable, the way integrations make them: a switch, a JSON light and a cover
that obey their commands and report the new state, a sensor and a binary sensor. Run by the MQTT suite against its
own broker: `python ha_devices.py HOST PORT`. Prints `ready` once every config and first state is published,
then answers commands until its standard input closes.
"""

import json
import sys
import time

from ha_mqtt_discoverable import DeviceInfo, Settings
from ha_mqtt_discoverable.sensors import (
    BinarySensor,
    BinarySensorInfo,
    Cover,
    CoverInfo,
    Light,
    LightInfo,
    Sensor,
    SensorInfo,
    Switch,
    SwitchInfo,
)

host, port = sys.argv[1], int(sys.argv[2])
mqtt = Settings.MQTT(host=host, port=port)
porch = DeviceInfo(name="Porch", identifiers="porch-1", suggested_area="Porch", manufacturer="Test")


def settings(info):
    return Settings(mqtt=mqtt, entity=info)


def on_switch(client, user_data, message):
    switch.on() if message.payload.decode() == "ON" else switch.off()


def on_light(client, user_data, message):
    command = json.loads(message.payload.decode())
    light.on() if command.get("state") == "ON" else light.off()


def on_cover(client, user_data, message):
    command = message.payload.decode()
    if command == "OPEN":
        cover.open()
    elif command == "CLOSE":
        cover.closed()
    else:
        cover.stopped()


switch = Switch(settings(SwitchInfo(name="Fountain", unique_id="hmd-fountain", device=porch)), on_switch)
light = Light(settings(LightInfo(name="Lantern", unique_id="hmd-lantern", device=porch)), on_light)
cover = Cover(settings(CoverInfo(name="Awning", unique_id="hmd-awning", device=porch)), on_cover)
sensor = Sensor(
    settings(
        SensorInfo(
            name="Temperature",
            unique_id="hmd-temperature",
            device=porch,
            device_class="temperature",
            unit_of_measurement="°C",
            state_class="measurement",
        )
    )
)
motion = BinarySensor(
    settings(BinarySensorInfo(name="Motion", unique_id="hmd-motion", device=porch, device_class="motion"))
)

for entity in (switch, light, cover, sensor, motion):
    entity.write_config()
# Give the broker the configs before the states, as a device that has just booted does.
time.sleep(0.5)
switch.off()
light.off()
cover.closed()
sensor.set_state(18.5)
motion.on()
time.sleep(0.5)
print("ready", flush=True)

sys.stdin.read()
