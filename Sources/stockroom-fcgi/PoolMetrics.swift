import FastCGI
import StockroomRuntime

/// The responder pool's families (php-fpm's status page, per process), read from the pool's
/// bookkeeping at every scrape.
enum PoolMetrics {
    static func families(_ pool: ResponderPoolStatistics, socket: String) -> [ScrapedFamily] {
        var families = [
            ScrapedFamily("stockroom_fastcgi_listener_info", .gauge,
                          help: "Always 1; the socket label is the unix socket this process listens on.",
                          samples: [.init(1, labels: [.init("socket", socket)])]),
            ScrapedFamily("stockroom_fastcgi_threads", .gauge,
                          help: "Responder threads the settings ask for (STOCKROOM_THREADS).",
                          value: Double(pool.configuredThreads)),
            ScrapedFamily("stockroom_fastcgi_busy_threads", .gauge,
                          help: "Responder threads reading, handling or writing a request.",
                          value: Double(pool.busyThreads)),
            ScrapedFamily("stockroom_fastcgi_idle_threads", .gauge,
                          help: "Responder threads waiting: in accept() or for the next request on a kept-alive nginx connection.",
                          value: Double(pool.idleThreads)),
            ScrapedFamily("stockroom_fastcgi_accepting_threads", .gauge,
                          help: "Idle responder threads in accept(), free to take a new connection.",
                          value: Double(pool.acceptingThreads)),
            ScrapedFamily("stockroom_fastcgi_accepted_connections_total", .counter,
                          help: "Connections taken from the listen queue.",
                          value: Double(pool.acceptedConnections)),
            ScrapedFamily("stockroom_fastcgi_saturation_events_total", .counter,
                          help: "Times the last thread in accept() took a connection, leaving none free: new connections then wait in the listen queue.",
                          value: Double(pool.saturationEvents)),
            ScrapedFamily("stockroom_fastcgi_listen_queue_max", .gauge,
                          help: "The longest listen queue seen since the start (sampled every 0.25 s and at every scrape).",
                          value: Double(pool.maxListenQueue)),
        ]
        if let queued = pool.listenQueue {
            families.append(ScrapedFamily("stockroom_fastcgi_listen_queue", .gauge,
                                          help: "Connections waiting in the socket's listen queue for a thread to accept them.",
                                          value: Double(queued)))
        }
        if let limit = pool.listenQueueLimit {
            families.append(ScrapedFamily("stockroom_fastcgi_listen_queue_limit", .gauge,
                                          help: "The most connections the listen queue holds; beyond it connect() fails and nginx tries another responder.",
                                          value: Double(limit)))
        }
        return families
    }
}
