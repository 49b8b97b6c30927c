import FastCGI
import StockroomRuntime

/// The responder pool's families (php-fpm's status page, per process), read from the pool's
/// bookkeeping at every scrape.
enum PoolMetrics {
    static func families(_ pool: ResponderPoolStatistics, socket: String) -> [ScrapedFamily] {
        // (name, type, value, help); a value the kernel would not give (nil) leaves its family out.
        let table: [(String, ScrapedFamily.Kind, Double?, String)] = [
            ("stockroom_fastcgi_threads", .gauge, Double(pool.configuredThreads),
             "Responder threads the settings ask for (STOCKROOM_THREADS)."),
            ("stockroom_fastcgi_busy_threads", .gauge, Double(pool.busyThreads),
             "Responder threads reading, handling or writing a request."),
            ("stockroom_fastcgi_idle_threads", .gauge, Double(pool.idleThreads),
             "Responder threads waiting: in accept() or for the next request on a kept-alive nginx connection."),
            ("stockroom_fastcgi_accepting_threads", .gauge, Double(pool.acceptingThreads),
             "Idle responder threads in accept(), free to take a new connection."),
            ("stockroom_fastcgi_accepted_connections_total", .counter, Double(pool.acceptedConnections),
             "Connections taken from the listen queue."),
            ("stockroom_fastcgi_saturation_events_total", .counter, Double(pool.saturationEvents),
             "Times the last thread in accept() took a connection, leaving none free: new connections then wait in the listen queue."),
            ("stockroom_fastcgi_listen_queue_max", .gauge, Double(pool.maxListenQueue),
             "The longest listen queue seen since the start (sampled every 0.25 s and at every scrape)."),
            ("stockroom_fastcgi_listen_queue", .gauge, pool.listenQueue.map(Double.init),
             "Connections waiting in the socket's listen queue for a thread to accept them."),
            ("stockroom_fastcgi_listen_queue_limit", .gauge, pool.listenQueueLimit.map(Double.init),
             "The most connections the listen queue holds; beyond it connect() fails and nginx tries another responder."),
        ]
        let listener = ScrapedFamily("stockroom_fastcgi_listener_info", .gauge,
                                     help: "Always 1; the socket label is the unix socket this process listens on.",
                                     samples: [.init(1, labels: [.init("socket", socket)])])
        return [listener] + table.compactMap { name, kind, value, help in
            value.map { ScrapedFamily(name, kind, help: help, value: $0) }
        }
    }
}
