// An HTTP endpoint as a reward source, so any external judge can score replies.
// Request: POST, JSON {"prompts": [string | messages], "completions": [string],
// "metadata": [{extra columns}]}, at most `batch_size` replies per request.
// Reply: JSON {"scores": [number, ...]}, one finite number per completion.
// Timeouts, connection failures, 429 and 5xx are retried with exponential
// backoff and every retry is recorded (`retries`); anything else — another
// status, a body that is not that JSON, the wrong count — is an error naming
// the URL and what came back. Never a silent zero.
// Leaves out: authentication headers, HTTP/2 tuning, concurrent requests.

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import StrataCore
import StrataData

public final class HTTPRewardSource: RewardSource {
    public struct Config: Codable, Equatable, Sendable {
        public var url: String
        public var name: String = "http"
        /// Seconds to wait for one reply.
        public var timeoutSeconds: Double = 30
        /// Further attempts after a timeout, connection failure, 429 or 5xx.
        public var retries: Int = 2
        /// Wait before the first retry; doubled for each further one.
        public var backoffSeconds: Double = 0.5
        /// Replies per request.
        public var batchSize: Int = 64
        /// Largest reply body accepted.
        public var maxResponseBytes: Int = 1 << 20

        enum CodingKeys: String, CodingKey {
            case url, name, timeoutSeconds = "timeout_seconds", retries, backoffSeconds = "backoff_seconds",
                 batchSize = "batch_size", maxResponseBytes = "max_response_bytes"
        }

        public init(url: String, name: String = "http", timeoutSeconds: Double = 30, retries: Int = 2, backoffSeconds: Double = 0.5,
                    batchSize: Int = 64, maxResponseBytes: Int = 1 << 20) {
            self.url = url; self.name = name; self.timeoutSeconds = timeoutSeconds; self.retries = retries
            self.backoffSeconds = backoffSeconds; self.batchSize = batchSize; self.maxResponseBytes = maxResponseBytes
        }
    }

    /// One retried attempt: which request of this source, which attempt failed, and why.
    public struct Retry: Sendable, Equatable {
        public var request: Int
        public var attempt: Int
        public var reason: String
    }

    public let identity: RewardSourceIdentity
    public let config: Config
    let endpoint: URL
    /// Every retry so far, oldest first (for metrics and logs).
    public private(set) var retries: [Retry] = []
    /// Requests sent so far (retries not counted).
    public private(set) var requests = 0

    /// Throws naming the field when the URL is not http(s) with a host or a number is out of range.
    public init(_ config: Config) throws {
        let op = "http reward source \(config.name)"
        guard let u = URL(string: config.url), let scheme = u.scheme?.lowercased(), ["http", "https"].contains(scheme),
              let host = u.host, !host.isEmpty else {
            throw StrataError.config(op, "field 'url' is \"\(config.url)\"", fix: "give an http:// or https:// URL with a host, e.g. http://127.0.0.1:8000/score")
        }
        let checks: [(String, Bool, String)] = [
            ("timeout_seconds", config.timeoutSeconds > 0 && config.timeoutSeconds.isFinite, "\(config.timeoutSeconds)"),
            ("retries", config.retries >= 0, "\(config.retries)"),
            ("backoff_seconds", config.backoffSeconds >= 0 && config.backoffSeconds.isFinite, "\(config.backoffSeconds)"),
            ("batch_size", config.batchSize >= 1, "\(config.batchSize)"),
            ("max_response_bytes", config.maxResponseBytes >= 16, "\(config.maxResponseBytes)"),
        ]
        if let bad = checks.first(where: { !$0.1 }) {
            throw StrataError.config(op, "field '\(bad.0)' is \(bad.2)", fix: "give a positive value (retries and backoff may be 0)")
        }
        self.config = config
        endpoint = u
        identity = RewardSourceIdentity(kind: .http, name: config.name, url: config.url,
                                        parameters: ["timeout_seconds": "\(config.timeoutSeconds)", "retries": "\(config.retries)",
                                                     "batch_size": "\(config.batchSize)"])
    }

    public func score(_ items: [RewardItem]) throws -> [Double] {
        var out: [Double] = []
        for start in stride(from: 0, to: items.count, by: config.batchSize) {
            out += try scoreBatch(Array(items[start..<min(items.count, start + config.batchSize)]))
        }
        return out
    }

    struct Request: Encodable {
        var prompts: [PromptPayload]
        var completions: [String]
        var metadata: [[String: PromptValue]]
    }

    /// A prompt as sent: the plain text, or the message list.
    enum PromptPayload: Encodable {
        case text(String), messages([ChatMessage])
        func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .text(let s): try c.encode(s)
            case .messages(let m): try c.encode(m)
            }
        }
    }

    private func scoreBatch(_ items: [RewardItem]) throws -> [Double] {
        let body = try StrataJSON.encode(Request(
            prompts: items.map { $0.prompt.format == .plain ? .text($0.prompt.request) : .messages($0.prompt.messages) },
            completions: items.map(\.reply), metadata: items.map(\.prompt.columns)), pretty: false)
        requests += 1
        let request = requests
        var attempt = 0
        while true {
            attempt += 1
            switch post(body) {
            case .reply(let status, let data) where status == 200:
                return try parse(data, expected: items.count)
            case .reply(let status, let data) where status == 429 || (500...599).contains(status):
                try retryOrThrow(request, attempt, "HTTP \(status): \(HTTPRewardSource.preview(data))")
            case .reply(let status, let data):
                throw StrataError.io("http reward source \(config.name) POST \(config.url)", "HTTP \(status): \(HTTPRewardSource.preview(data))",
                                     fix: "the endpoint must answer 200 with {\"scores\": [...]}")
            case .failed(let reason):
                try retryOrThrow(request, attempt, reason)
            }
        }
    }

    private func retryOrThrow(_ request: Int, _ attempt: Int, _ reason: String) throws {
        guard attempt <= config.retries else {
            throw StrataError.io("http reward source \(config.name) POST \(config.url)",
                                 "gave up after \(attempt) attempt\(attempt == 1 ? "" : "s"); last: \(reason)",
                                 fix: "check that the endpoint is up and answers within \(config.timeoutSeconds) s, or raise timeout_seconds/retries")
        }
        retries.append(Retry(request: request, attempt: attempt, reason: reason))
        let wait = config.backoffSeconds * pow(2, Double(attempt - 1))
        if wait > 0 { Thread.sleep(forTimeInterval: wait) }
    }

    func parse(_ data: Data, expected: Int) throws -> [Double] {
        let op = "http reward source \(config.name) POST \(config.url)"
        let fix = "answer {\"scores\": [one number per completion]}"
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw StrataError.format(op, "reply is not a JSON object: \(HTTPRewardSource.preview(data))", fix: fix)
        }
        guard let list = obj["scores"] as? [Any] else {
            throw StrataError.format(op, "reply has no \"scores\" list (keys: \(obj.keys.sorted()))", fix: fix)
        }
        guard list.count == expected else {
            throw StrataError.format(op, "reply has \(list.count) scores for \(expected) completions", fix: fix)
        }
        return try list.enumerated().map { i, v in
            guard case .number(let d) = PromptValue(json: v), d.isFinite else {
                throw StrataError.format(op, "scores[\(i)] is \(PromptValue(json: v).typeName), not a finite number", fix: fix)
            }
            return d
        }
    }

    enum Outcome { case reply(Int, Data), failed(String) }

    final class Box: @unchecked Sendable { var outcome = Outcome.failed("no reply") }

    /// One POST, waited for synchronously; transport errors and oversize bodies come back as `.failed`.
    private func post(_ body: Data) -> Outcome {
        var req = URLRequest(url: endpoint, timeoutInterval: config.timeoutSeconds)
        req.httpMethod = "POST"
        req.setValue("application/json", forHTTPHeaderField: "Content-Type")
        req.httpBody = body
        let sessionConfig = URLSessionConfiguration.ephemeral
        sessionConfig.timeoutIntervalForRequest = config.timeoutSeconds
        sessionConfig.timeoutIntervalForResource = config.timeoutSeconds
        let session = URLSession(configuration: sessionConfig)
        defer { session.finishTasksAndInvalidate() }
        let box = Box(), done = DispatchSemaphore(value: 0), limit = config.maxResponseBytes
        let task = session.dataTask(with: req) { data, response, error in
            if let error { box.outcome = .failed("\(error.localizedDescription)") }
            else if let http = response as? HTTPURLResponse, let data {
                box.outcome = data.count > limit ? .failed("reply of \(data.count) bytes exceeds max_response_bytes \(limit)")
                                                 : .reply(http.statusCode, data)
            } else { box.outcome = .failed("no HTTP response") }
            done.signal()
        }
        task.resume()
        // The deadline is enforced here too: URLSession on Linux does not always honour its timeouts.
        if done.wait(timeout: .now() + config.timeoutSeconds) == .timedOut {
            task.cancel()
            return .failed("no reply within \(config.timeoutSeconds) s")
        }
        return box.outcome
    }

    static func preview(_ data: Data) -> String {
        let s = String(decoding: data.prefix(120), as: UTF8.self)
        return data.isEmpty ? "(empty body)" : "\"\(s)\(data.count > 120 ? "..." : "")\""
    }
}
