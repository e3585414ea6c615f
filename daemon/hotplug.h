/* hotplug.h — uplinks with match= are bound to a device by identity, not by name: found at start
 * and whenever links change in the host namespace, taken down when their interface leaves. */
#pragma once

struct daemon;
struct dm_uplink;
struct hotplug;

/* Watches the host namespace's links. */
int hotplug_new(struct daemon *d, struct hotplug **ret);
void hotplug_free(struct hotplug *h);
/* A match= uplink: looks for its device now and sets du->found_ifname; -ENODEV when absent. */
int hotplug_resolve(struct dm_uplink *du);
/* While du is up: notices its interface leaving its namespace (unplugged) and takes du down
 * (daemon_uplink_unplugged()); then hot-plug looks for it again. */
int hotplug_watch_uplink(struct daemon *d, struct dm_uplink *du);
void hotplug_unwatch_uplink(struct dm_uplink *du);
