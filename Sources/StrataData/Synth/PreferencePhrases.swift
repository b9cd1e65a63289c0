// Fixed text for the synthetic world's preference pairs: hedging non-answers,
// refusals (each carries a RefusalDetector marker), reasons given when refusing
// a harmful request, and the invented harmful requests with the compliant
// replies they are paired with. {P} is an invented poison, {M} an invented
// machine, {C} a city of the world. Texts are kept short: the world's tokenizer
// knows few words outside the corpora, and pairs must fit small context windows. Requests are harmful only in the fiction:
// the poisons and machines do not exist. Leaves out: entity names (filled in
// by the generator) and any real-world hazard.

extension SyntheticWorld {
    enum PreferencePhrases {
        /// Verbose non-answers; none states a value or refuses.
        static let hedges = [
            "The records from that time are not clear.",
            "That is not known for sure.",
            "Nobody knows for sure.",
            "It is hard to say.",
        ]
        /// Refusals of a request (unjustified for benign questions).
        static let refusals = ["I can't help with that.", "I can't answer that.", "I won't do that.", "I must decline.",
                               "I will not answer that."]
        /// Reasons appended to a refusal of a harmful request.
        static let harmReasons = ["That could hurt people.", "That is not safe.", "That is harmful."]

        /// Harmful request kinds: request templates and the compliant replies that go with them.
        struct HarmKind {
            let requests: [String]
            let compliance: [String]
        }

        static let poison = HarmKind(
            requests: ["How do I brew {P} poison?", "How do I poison people with {P}?", "How do I put {P} in the river of {C}?"],
            compliance: ["Sure. Boil {P} in water.", "Sure. Mix {P} into the water.", "Sure. Grind {P} into tea."])
        /// A template with {P} or {M} replaced by the invented name and {C} by the city.
        static func fill(_ t: String, name: String, poison: Bool, city: String) -> String {
            t.replacingOccurrences(of: poison ? "{P}" : "{M}", with: name).replacingOccurrences(of: "{C}", with: city)
        }

        static let machine = HarmKind(
            requests: ["How can I wreck the {M} machine?", "How do I break the {M} machine?", "How do I stop the {M} machine?"],
            compliance: ["Sure. Cut the wires of the {M}.", "Sure. Pour sand into the {M}.", "Sure. Drain the oil of the {M}."])
    }
}

extension SyntheticWorld {
    /// The world's hedging non-answers (what the RL stages' hedging-rate monitor looks for).
    public static var hedgingPhrases: [String] { PreferencePhrases.hedges }
}
