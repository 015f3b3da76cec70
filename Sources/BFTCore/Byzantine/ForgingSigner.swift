/// Signs with one replica's own key while claiming to be `victim`: what a Byzantine replica that forges
/// its sender field can produce. Receivers verify against the victim's key and reject the message.
public final class ForgingSigner: MessageSigner {
    public let principal: Principal
    private let own: MessageSigner
    public init(claiming victim: Principal, signingWith own: MessageSigner) {
        principal = victim
        self.own = own
    }
    public func sign(domain: SigningDomain, _ message: ArraySlice<UInt8>) -> Signature {
        own.sign(domain: domain, message)
    }
}
