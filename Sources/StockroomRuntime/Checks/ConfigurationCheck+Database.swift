import MariaDB

extension ConfigurationCheck {
    /// Connects to every node a process could use (the unix socket, the one server, or each node of
    /// STOCKROOM_DB_HOSTS in turn), with the checks a start's connections make (a Galera node must
    /// be synced and in the primary component), and says which answered.
    public mutating func database(_ configuration: MariaDBConfiguration) {
        MariaDBConnection.initializeLibrary()
        let nodes = configuration.unixSocket == nil ? configuration.endpoints.count : 1
        for node in 0..<nodes {
            let subject = Self.nodeName(configuration, node: node, of: nodes)
            do {
                let connection = try MariaDBConnection(configuration: configuration, node: node)
                let version = try connection.query("SELECT VERSION()").first?.string(0) ?? "?"
                let cluster = connection.isClusterNode ? ", a synced Galera node" : ""
                passed(subject, "MariaDB \(version)\(cluster), database \(configuration.database) as \(configuration.user)")
            } catch let error as MariaDBError {
                failed(subject, "\(error) \(error.serverMessage)", .databaseUnreachable)
            } catch {
                failed(subject, "\(error)", .databaseUnreachable)
            }
        }
    }

    static func nodeName(_ configuration: MariaDBConfiguration, node: Int, of nodes: Int) -> String {
        if let socket = configuration.unixSocket { return "database at \(socket)" }
        let endpoint = configuration.endpoints[node]
        return nodes == 1 ? "database at \(endpoint)" : "database node \(node + 1) of \(nodes) at \(endpoint)"
    }
}
