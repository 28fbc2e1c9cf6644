import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ServiceLifecycle

/// A whole store instance: the PostgreSQL pool, migrations at start, retention, the HTTP server.
/// Stateless: run as many as the load needs, on one database.
public enum StoreServer {
    /// Runs until SIGTERM/SIGINT (or the task is cancelled). `onRunning` gets the bound port.
    public static func run(
        settings: StoreSettings, postgres: PostgresClient.Configuration, logger: Logger,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws {
        let keys = try settings.keyDirectory.map { directory throws(DayKeys.Failure) in try DayKeys(directory: directory) }
        let client = PostgresClient(configuration: postgres, backgroundLogger: logger)
        let store = ReadStore(client: client, retention: settings.retention, keys: keys, logger: logger)
        let app = StoreApp(store: store, settings: settings)
        // Retention waits for the migration: on an empty database its tables do not exist yet.
        let (schemaReady, migrated) = AsyncStream<Void>.makeStream()
        var application = Application(
            router: app.router(),
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "platekeeper-store"),
            services: [client, RetentionService(store: store, intervalSeconds: settings.retentionIntervalSeconds, schemaReady: schemaReady)],
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? settings.port) },
            logger: logger)
        application.beforeServerStarts {
            let applied = try await StoreSchema.migrate(client, logger: logger)
            if !applied.isEmpty { logger.notice("store schema migrated to version \(StoreSchema.currentVersion)") }
            migrated.yield()
            migrated.finish()
        }
        try await application.runService()
    }

    /// Runs `body` with a PostgreSQL pool (for the admin commands).
    public static func withClient<T: Sendable>(
        _ postgres: PostgresClient.Configuration, logger: Logger, retention: Retention = Retention(days: Retention.maxDays, hitDays: Retention.maxDays),
        keys: DayKeys? = nil, _ body: @Sendable (ReadStore) async throws -> T
    ) async throws -> T {
        let client = PostgresClient(configuration: postgres, backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await StoreSchema.migrate(client, logger: logger)
            return try await body(ReadStore(client: client, retention: retention, keys: keys, logger: logger))
        }
    }
}
