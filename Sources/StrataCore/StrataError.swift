// StrataError: the one error type of the project. Every message carries the
// operation that failed, what it saw (shapes, file, line, field) and, where there
// is one, the fix. Leaves out: error codes for programmatic matching beyond `kind`.

public struct StrataError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: String, Sendable {
        case shape          // tensor shapes do not fit the operation
        case io             // a file could not be read or written
        case format         // a file's contents break its format's rules
        case config         // a recipe, config.json or option is invalid
        case data           // a dataset line or document is invalid
        case numeric        // NaN/Inf or another numeric failure
        case backend        // oneDNN or another library reported failure
        case state          // an object used in the wrong state (e.g. backward twice)
    }

    public let kind: Kind
    public let operation: String
    public let message: String
    public let fix: String?

    public init(_ kind: Kind, _ operation: String, _ message: String, fix: String? = nil) {
        self.kind = kind
        self.operation = operation
        self.message = message
        self.fix = fix
    }

    public var description: String {
        var s = "\(operation): \(message)"
        if let fix { s += " (fix: \(fix))" }
        return s
    }

    public static func shape(_ op: String, _ msg: String, fix: String? = nil) -> StrataError { .init(.shape, op, msg, fix: fix) }
    public static func io(_ op: String, _ msg: String, fix: String? = nil) -> StrataError { .init(.io, op, msg, fix: fix) }
    public static func format(_ op: String, _ msg: String, fix: String? = nil) -> StrataError { .init(.format, op, msg, fix: fix) }
    public static func config(_ op: String, _ msg: String, fix: String? = nil) -> StrataError { .init(.config, op, msg, fix: fix) }
    public static func data(_ op: String, _ msg: String, fix: String? = nil) -> StrataError { .init(.data, op, msg, fix: fix) }
}
