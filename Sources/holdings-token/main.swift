import Foundation
import Security

/// holdings-token: issues a development access token (HS256) for holdingsd.
let usage = """
    usage: holdings-token --secret-file FILE [--subject NAME] [--scope SCOPE]... [--lifetime SECONDS]
                          [--issuer ISS] [--audience AUD]

      --secret-file FILE  the HS256 secret holdingsd was given (--jwt-hs256-secret-file)
      --subject NAME      the token's sub: who the caller is (default dev)
      --scope SCOPE       a scope, repeatable (default admin): clients:read:<id>, clients:write:<id>,
                          clients:read:*, clients:write:*, prices:publish, corporate-actions:apply, admin
      --lifetime SECONDS  how long the token is valid (default 3600)
    """

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("holdings-token: \(message)\n".utf8))
    exit(2)
}

var secretFile: String?
var subject = "dev"
var scopes: [String] = []
var lifetime: Int64 = 3600
var issuer = AccessTokenSettings().issuer, audience = AccessTokenSettings().audience
var arguments = CommandLine.arguments.dropFirst()
@MainActor func next(_ flag: String) -> String {
    guard let value = arguments.popFirst() else { fail("\(flag) needs a value\n\(usage)") }
    return value
}
while let argument = arguments.popFirst() {
    switch argument {
    case "--secret-file": secretFile = next(argument)
    case "--subject": subject = next(argument)
    case "--scope": scopes.append(next(argument))
    case "--lifetime":
        guard let seconds = Int64(next(argument)), seconds > 0 else { fail("--lifetime takes a positive number of seconds") }
        lifetime = seconds
    case "--issuer": issuer = next(argument)
    case "--audience": audience = next(argument)
    case "--help", "-h": print(usage); exit(0)
    default: fail("unknown argument \(argument)\n\(usage)")
    }
}
guard let secretFile, let text = try? String(contentsOfFile: secretFile, encoding: .utf8) else { fail("give a readable --secret-file\n\(usage)") }
let secret = Array(text.trimmingCharacters(in: .whitespacesAndNewlines).utf8)
do {
    let token = try await DevelopmentTokens.issue(
        secret: secret, subject: subject, scopes: scopes.isEmpty ? ["admin"] : scopes, lifetime: .seconds(lifetime),
        issuer: issuer, audience: audience)
    print(token)
} catch {
    fail("\(error)")
}
