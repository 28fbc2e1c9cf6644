/// How and where a unit uploads its journal: the `[upload]` section, resolved.
public struct UploadSettings: Sendable, Equatable {
    /// The store's batch endpoint, e.g. `https://store.example.net/v1/reads`.
    public var url: String
    /// This unit's id as the store knows it (`[unit] id`).
    public var unit: String
    /// Where the bearer token is read from at start (a file, or a systemd credential's file).
    public var tokenPath: String
    public var tls = CurlTransport.TLS()
    /// A batch holds at most this many reads and this many bytes of JSON (before gzip).
    public var batchMaxCount = 100
    public var batchMaxBytes = 4 << 20
    /// A batch smaller than `batchMaxCount` waits until its oldest read is this old, so that a busy
    /// unit sends fewer, fuller batches; 0 sends at once.
    public var batchMaxAgeSeconds = 5.0
    /// The whole request, connect to the last byte of the reply.
    public var timeoutSeconds = 30.0
    /// Exponential backoff after failures: from `backoffMinSeconds`, doubling, at most `backoffMaxSeconds`.
    public var backoffMinSeconds = 1.0
    public var backoffMaxSeconds = 300.0
    /// The longest Retry-After honoured; a longer one is cut to this.
    public var retryAfterMaxSeconds = 3600.0

    public init(url: String, unit: String, tokenPath: String) {
        self.url = url
        self.unit = unit
        self.tokenPath = tokenPath
    }
}
