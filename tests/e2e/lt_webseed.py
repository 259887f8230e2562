#!/usr/bin/python3
"""lt_webseed.py TORRENT SAVE_DIR - libtorrent (python3-libtorrent) downloads
a torrent from what the .torrent names (its web seed, its tracker), with DHT,
LSD, UPnP, NAT-PMP off and no plugins (so no ut_pex), listening on loopback only; exits
0 once it is complete and checked, 1 after 120 s or on an error."""
import sys
import time

import libtorrent as lt

torrent, save = sys.argv[1], sys.argv[2]
ses = lt.session({
    'listen_interfaces': '127.0.0.1:0',
    'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
    'alert_mask': lt.alert.category_t.error_notification,
}, 0)  # flags 0: without the default plugins, ut_pex among them
h = ses.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': save,
                     'flags': lt.torrent_flags.default_flags & ~lt.torrent_flags.auto_managed
                     & ~lt.torrent_flags.paused})
deadline = time.time() + 120
while time.time() < deadline:
    for a in ses.pop_alerts():
        if a.category() & lt.alert.category_t.error_notification:
            print('libtorrent:', a.message(), file=sys.stderr)
    s = h.status()
    if s.is_seeding:
        print('done', s.total_wanted)
        sys.exit(0)
    time.sleep(0.1)
print('timed out at', h.status().progress, file=sys.stderr)
sys.exit(1)
