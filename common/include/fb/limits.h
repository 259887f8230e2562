/*
 * limits.h - every size cap on data that comes from the network, in one place.
 *
 * The caps are independent: a document is rejected by the first one it breaks,
 * so a record that respects every per-field cap can still be refused for its
 * total size.
 */
#ifndef FB_LIMITS_H
#define FB_LIMITS_H

#define CM_MAX_EMAIL 254               /* bytes, RFC 5321 path limit */
#define CM_MAX_EMAIL_LOCAL 64          /* bytes before the '@' */
#define CM_MAX_REPO_NAME 255           /* bytes */
#define CM_MAX_DESCRIPTION 1024        /* bytes */
#define CM_MAX_REPOSITORIES 256        /* entries in one list */
#define CM_MAX_SOCKET_ADDRESSES 16     /* entries in one list */
#define CM_MAX_ADDRESS 45              /* bytes, longest IPv6 literal (INET6_ADDRSTRLEN - 1) */
#define CM_MAX_SIGNED_RECORD (64 * 1024)   /* bytes of one compact signed record */
#define CM_MAX_BODY (64 * 1024)        /* bytes of one HTTP body */
#define CM_MAX_FRAME (256 * 1024)      /* bytes of one WebSocket message */
#define CM_MAX_API_ANSWER (64 * 1024 * 1024) /* bytes of one control API answer (PeerInfo lists) */
#define CM_MAX_CERT_PEM (16 * 1024)    /* bytes of one PEM certificate */
#define CM_MAX_SIGNATURE_B64 1024      /* bytes of one base64 signature */
#define CM_MAX_LIST_PEERS 512          /* records in one PEER_LIST_RESPONSE */
#define CM_MAX_BOOTSTRAP_PEERS 256     /* entries in one bootstrap list answer */
#define CM_MAX_TTL 64                  /* gossip hops */
#define CM_MAX_BLOOM_BYTES (64 * 1024) /* bytes of one anti-entropy Bloom filter (before base64) */
#define CM_MAX_BLOOM_K 16              /* hash functions of that filter */
#define CM_MAX_MAX_PEERS 10000         /* capabilities.max_peers */
#define CM_MAX_HEARTBEAT_INTERVAL_S 86400
#define CM_MAX_NOTE 256                /* bytes of a whitelist note */
#define CM_MAX_ADMIN_ROWS 10000        /* rows in one admin listing */
#define CM_MAX_LATENCY_MS 600000       /* one feedback report: 10 minutes */
#define CM_MAX_PEER_INFOS 10000       /* entries in one PeerInfo list answer */
#define CM_MAX_COUNTERS 64             /* named counters in one statistics object */
#define CM_MAX_URL 2048                /* bytes of one URL */
#define CM_MAX_DEGREES 1000000         /* entries of a topology degree histogram */
#define CM_MAX_TORRENTS 256            /* entries in a record's torrents list */
#define CM_MAX_RELAYS 4                /* emails in a record's relays list */
#define CM_MAX_RELAY_ENTRIES 10000     /* entries in one list of a relay status answer */
#define CM_MAX_TORRENT_NAME 255        /* bytes of a torrent's name (a file name's NAME_MAX) */
#define CM_INFO_HASH_LEN 40            /* hex characters of a BitTorrent v1 info hash (SHA-1) */
#define CM_SHA256_HEX_LEN 64           /* hex characters of a SHA-256 */
#define CM_MAX_PATH 4096               /* bytes of a file path in the control API (PATH_MAX) */
#define CM_MAX_MAGNET (64 * 1024)      /* bytes of one magnet link (no body holds more) */
#define CM_MAX_TORRENT_FILES 10000     /* files listed for one torrent */
#define CM_MAX_TORRENT_LIST 10000      /* torrents in one control API list answer */
#define CM_MAX_MESSAGE 1024            /* bytes of an error text inside an answer */
#define CM_FINGERPRINT_LEN 64          /* hex characters of a SHA-256 fingerprint */
#define CM_MAX_SAFE_INTEGER 9007199254740991LL /* 2^53 - 1: exact in every JSON reader */

#endif
