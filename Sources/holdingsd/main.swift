import NativeLibraries

/// holdingsd: the UltraCore Holdings service. At this stage it reports its version and
/// the C libraries it links; the transport, event log and store arrive with their issues.
let version = "0.1.0"

let arguments = CommandLine.arguments.dropFirst()
if arguments.contains("--help") || arguments.contains("-h") {
    print("""
    usage: holdingsd [--version]

    The UltraCore Holdings service (gRPC over HTTP/2). Version \(version).
    """)
} else {
    print("holdingsd \(version)")
    for library in NativeLibraries.versions {
        print("  \(library.name) \(library.version)")
    }
}
