using System.Text;
using Actorvisor.Host.Api.V1;
using Akka.Actor;
using Akka.Configuration;

namespace Actorvisor.Host.Tests.Api;

/// <summary>
/// Pins the wire form of every API v1 message (docs/api-v1.md, "Compatibility"): Api/ApiWireForms/MANIFEST.json holds one
/// serialized sample per registered manifest (the enumeration the fuzz corpus's seed test checks, <see cref="ApiSerializer.Types"/>),
/// and each must read back and serialize again to exactly the same bytes. A renamed, removed, retyped or reordered field,
/// a changed enum name or a new field that is written when not set fails here; so does a manifest without a pinned form,
/// or a pinned form whose manifest is gone. An incompatible change takes a new manifest (a new version), pinned anew.
/// </summary>
public sealed class ApiWireFormTests : IDisposable
{
    /// <summary>Set to the source folder of the pinned forms, a run writes the missing ones there from the fuzz seeds (never overwriting one).</summary>
    public const string PinVariable = "ACTORVISOR_PIN_WIRE_FORMS";

    // Remote, as a client or node is: subscriber references in the samples are remote actors, written back as they were read.
    private readonly ActorSystem _system = ActorSystem.Create("wire-forms", ConfigurationFactory.ParseString(ApiSerialization.Hocon + """

        akka.loglevel = OFF
        akka.stdout-loglevel = OFF
        akka.actor.provider = remote
        akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
        """));
    private readonly ApiSerializer _serializer;

    public ApiWireFormTests() => _serializer = (ApiSerializer)_system.Serialization.FindSerializerForType(typeof(IApiMessage));

    public void Dispose() => _system.Terminate().Wait(TimeSpan.FromSeconds(10));

    private static string Folder => Path.Combine(AppContext.BaseDirectory, "Api", "ApiWireForms");

    private static Dictionary<string, string> Pinned() =>
        (Directory.Exists(Folder) ? Directory.GetFiles(Folder, "*.json") : []).ToDictionary(f => Path.GetFileNameWithoutExtension(f), f => File.ReadAllText(f).TrimEnd('\n'), StringComparer.Ordinal);

    [Fact]
    public void Every_manifest_has_a_pinned_form_and_every_pinned_form_a_manifest()
    {
        if (Environment.GetEnvironmentVariable(PinVariable) is { Length: > 0 } target) PinMissing(target);
        var pinned = Pinned();
        var missing = ApiSerializer.Types.Select(t => t.Manifest).Where(m => !pinned.ContainsKey(m)).ToList();
        Assert.True(missing.Count == 0,
            $"no pinned wire form for {string.Join(", ", missing)}: add Api/ApiWireForms/MANIFEST.json (a run with {PinVariable}=<that source folder> " +
            "writes it from the message's fuzz seed); a message's wire form is part of the contract from its first release");
        var retired = pinned.Keys.Where(m => ApiSerializer.Types.All(t => t.Manifest != m)).ToList();
        Assert.True(retired.Count == 0,
            $"{string.Join(", ", retired)} is pinned but no longer registered: nodes of this version refuse it from older clients. If that is meant, delete its file.");
    }

    [Fact]
    public void Every_pinned_form_reads_back_and_serializes_to_the_same_bytes()
    {
        var changed = new List<string>();
        foreach (var (manifest, json) in Pinned().Where(p => ApiSerializer.Types.Any(t => t.Manifest == p.Key)).OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var message = _serializer.FromBinary(Encoding.UTF8.GetBytes(json), manifest);
            Assert.Equal(manifest, _serializer.Manifest(message));
            var again = Encoding.UTF8.GetString(_serializer.ToBinary(message));
            if (again != json) changed.Add($"{manifest}:\n  pinned: {json}\n  now:    {again}");
        }
        Assert.True(changed.Count == 0,
            "the wire form of a v1 message changed. Older clients and nodes read and write the pinned form: keep it (a new field must be " +
            "optional and null unless set, see docs/api-v1.md), or make the change under a new manifest and pin that.\n" + string.Join("\n", changed));
    }

    [Fact]
    public void A_null_field_is_not_written_and_an_unknown_field_is_ignored_which_is_what_lets_fields_be_added()
    {
        // The rule for adding a field (docs/api-v1.md): optional and null unless set. Null, it is not on the wire at all,
        // so the pinned form of every message that does not set it stays as it is ...
        var start = new StartVmRequest("web-1");
        Assert.Equal("{\"name\":\"web-1\"}", Encoding.UTF8.GetString(_serializer.ToBinary(start)));
        Assert.Contains("\"deadlineMs\":5", Encoding.UTF8.GetString(_serializer.ToBinary(start with { DeadlineMs = 5 })));
        // ... and a reader that does not know it (an older client or node) ignores it when it is set.
        Assert.Equal(start, _serializer.FromBinary("{\"name\":\"web-1\",\"fieldOfALaterVersion\":{\"a\":[1]}}"u8.ToArray(), "v1.start-vm"));
        // A renamed field is a changed form: read, it is dropped, so the bytes written back differ from the pinned ones.
        var renamed = "{\"vmName\":\"web-1\"}";
        Assert.NotEqual(renamed, Encoding.UTF8.GetString(_serializer.ToBinary(_serializer.FromBinary(Encoding.UTF8.GetBytes(renamed), "v1.start-vm"))));
    }

    // Writes the pinned form of every manifest that has none, from its fuzz seed ("MANIFEST\nJSON"), read and written by
    // the current serializer; subscriber references become a remote client's, so that they read back as they are.
    private void PinMissing(string target)
    {
        var pinned = Pinned();
        foreach (var seed in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Fuzz", "Corpus", "api")).Order(StringComparer.Ordinal))
        {
            var text = File.ReadAllText(seed);
            var manifest = text[..text.IndexOf('\n')];
            var path = Path.Combine(target, manifest + ".json");
            if (pinned.ContainsKey(manifest) || File.Exists(path) || ApiSerializer.Types.All(t => t.Manifest != manifest)) continue;
            var json = System.Text.RegularExpressions.Regex.Replace(text[(manifest.Length + 1)..].Trim(), "\"akka://[^\"]*\"",
                "\"akka.tcp://actorvisor-client@127.0.0.1:40001/user/$a#1234\"");
            var message = _serializer.FromBinary(Encoding.UTF8.GetBytes(json), manifest);
            File.WriteAllText(path, Encoding.UTF8.GetString(_serializer.ToBinary(message)) + "\n");
            pinned[manifest] = json;
        }
    }
}
