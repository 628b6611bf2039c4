import Foundation
import RPCCore
import Security
import Synchronization
import Testing

@Suite("Principals, tokens and audit lines")
struct SecurityTests {
    @Test("grants: write includes read, wildcards cover every client, admin covers everything, nothing else leaks")
    func grants() {
        let writer = Principal(subject: "w", scopes: ["clients:write:c1", "clients:read:c2"], proof: .token)
        #expect(writer.may(.read, client: "c1") && writer.may(.write, client: "c1"))
        #expect(writer.may(.read, client: "c2") && !writer.may(.write, client: "c2"))
        #expect(!writer.may(.read, client: "c3") && !writer.may(.read, client: "c1x") && !writer.may(.read, client: "*"))
        #expect(!writer.mayAll(.read) && !writer.has("prices:publish") && !writer.isAdmin)
        let reader = Principal(subject: "r", scopes: ["clients:read:*"], proof: .certificate)
        #expect(reader.may(.read, client: "anyone") && !reader.may(.write, client: "anyone") && reader.mayAll(.read) && !reader.mayAll(.write))
        #expect(writer.namedClients(.read) == ["c1", "c2"] && writer.namedClients(.write) == ["c1"])
        #expect(Principal(subject: "x", scopes: ["clients:read:*", "clients:read:", "clients:read:bad\u{0}"], proof: .token).namedClients(.read).isEmpty)
        let admin = Principal(subject: "a", scopes: ["admin"], proof: .token)
        #expect(admin.may(.write, client: "x") && admin.has("corporate-actions:apply") && admin.mayAll(.write))
    }

    @Test("audit lines are JSON whatever the texts hold (quotes, backslashes, controls, line separators, non-ASCII)")
    func auditLines() throws {
        let lines = Mutex<[String]>([])
        let log = AuditLog { line in lines.withLock { $0.append(line) } }
        let nasty = "a\"b\\c\nd\u{0}e\u{1F}f\u{7F}g\u{2028}h é 😀"
        log.record(principal: Principal(subject: "s", scopes: [], proof: .token), method: "/x.Y/Z", clients: [nasty, "c2"],
                   requestId: nasty, outcome: "denied", status: RPCError(.permissionDenied, nasty), peer: "127.0.0.1:1")
        let line = try #require(lines.withLock { $0.first })
        #expect(!line.contains("\n") || line.contains("\\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["request_id"] as? String == nasty && object["message"] as? String == nasty)
        #expect(object["clients"] as? [String] == [nasty, "c2"] && object["principal"] as? String == "token:s")
        #expect(object["code"] as? String == "PERMISSION_DENIED" && object["audit"] as? String == "call")
        let time = try #require(object["time"] as? String)
        #expect(time.count == 24 && time.hasSuffix("Z"))
    }

    @Test("the bearer scheme is case-insensitive, spaces around the token are ignored, anything else is no token")
    func bearerHeader() {
        #expect(CallAuthenticator.bearerToken("Bearer abc.def.ghi") == "abc.def.ghi")
        #expect(CallAuthenticator.bearerToken("bEARER   abc  ") == "abc")
        for value in ["Bearer", "Bearer ", "Bearer    ", "Basic YTpi", "Bearerabc", "", "Béarer abc", "Bearer\tabc"] {
            #expect(CallAuthenticator.bearerToken(value) == nil, "\(value)")
        }
    }

    @Test("an issued HS256 token verifies; expired, wrong issuer, wrong audience, other key and alg none do not")
    func tokens() async throws {
        let secret = Array("0123456789abcdef0123456789abcdef".utf8)
        var settings = AccessTokenSettings()
        settings.hmacSecret = secret
        settings.clockSkew = .seconds(5)
        let verifier = try await AccessTokenVerifier(settings: settings)
        let good = try await DevelopmentTokens.issue(secret: secret, subject: "alice", scopes: ["clients:read:c1"], lifetime: .seconds(60))
        let principal = try await verifier.principal(token: good)
        #expect(principal == Principal(subject: "alice", scopes: ["clients:read:c1"], proof: .token))
        // The same token later than its expiry plus the skew: refused, also from the cache.
        await #expect(throws: RPCError.self) { try await verifier.principal(token: good, now: Date().addingTimeInterval(70)) }
        let refused = [
            try await DevelopmentTokens.issue(secret: secret, subject: "a", scopes: [], lifetime: .seconds(60), issuer: "other"),
            try await DevelopmentTokens.issue(secret: secret, subject: "a", scopes: [], lifetime: .seconds(60), audience: "other"),
            try await DevelopmentTokens.issue(secret: Array("another secret of at least 32 bytes".utf8), subject: "a", scopes: [], lifetime: .seconds(60)),
            // {"alg":"none"} with the claims of a good token and no signature.
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + good.split(separator: ".")[1] + ".",
            "not a token",
        ]
        for token in refused {
            do {
                _ = try await verifier.principal(token: token)
                Issue.record("accepted \(token)")
            } catch {
                #expect(error.code == .unauthenticated)
            }
        }
        await #expect(throws: SecurityConfigurationError.self) {
            var short = AccessTokenSettings()
            short.hmacSecret = Array("short".utf8)
            _ = try await AccessTokenVerifier(settings: short)
        }
    }
}
