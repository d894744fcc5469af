using System.Runtime.Serialization;
using System.Text;
using Actorvisor.Host.Api;
using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Node;
using Actorvisor.Tests.Fuzz;
using Akka.Actor;
using Akka.Configuration;
using Xunit.Abstractions;

namespace Actorvisor.Host.Tests.Fuzz;

/// <summary>
/// The remote API's deserializer and validator under mutated and random payloads for a fixed time budget: a
/// payload is refused with a <see cref="SerializationException"/> or becomes a message that the validator
/// judges without throwing, that prints, and that serializes again; for a valid create request, the node's
/// confined opening of the image path answers too. Seeds are Fuzz/Corpus/api: "MANIFEST\nJSON" per file.
/// </summary>
public sealed class ApiFuzzTests : IDisposable
{
    private readonly ActorSystem _system = ActorSystem.Create("api-fuzz",
        ConfigurationFactory.ParseString(ApiSerialization.Hocon + "\nakka.loglevel = OFF\nakka.stdout-loglevel = OFF"));
    private readonly ApiSerializer _serializer;
    private readonly string _images = Directory.CreateTempSubdirectory("actorvisor-fuzz-images-").FullName;
    private readonly VmImageResolver _resolver;
    private readonly ITestOutputHelper _output;

    public ApiFuzzTests(ITestOutputHelper output)
    {
        _output = output;
        _serializer = (ApiSerializer)_system.Serialization.FindSerializerForType(typeof(IApiMessage));
        _system.ActorOf(Props.Empty, "subscriber");
        Directory.CreateDirectory(Path.Combine(_images, "images"));
        File.WriteAllBytes(Path.Combine(_images, "images", "a.elf"), [0xf4]);
        _resolver = new VmImageResolver([_images], "fuzz");
    }

    public void Dispose()
    {
        _resolver.Dispose();
        _system.Terminate().Wait(TimeSpan.FromSeconds(10));
        Directory.Delete(_images, recursive: true);
    }

    private static readonly byte[][] Dictionary =
    [
        .. new[]
        {
            "null", "true", "-1", "0", "1e309", "-0.0", "18446744073709551616", "9223372036854775807", "4294967296", "\"\"", "\"\\u0000\"",
            "\"../../etc/passwd\"", "\"/proc/self/root/etc/shadow\"", "{}", "[]", "{\"a\":", "[[[[[[[[[[[[[[[[[[[[", "\"spec\":", "\"token\":",
            "\"deadlineMs\":", "\"subscriber\":", "\"akka://api-fuzz/user/subscriber\"", "\"akka.tcp://x@h:1/user/a\"", "\"status\":\"Lost\"",
            "\"bootMode\":\"long\"", "\"image\":\"a/b\"", "\"vcpus\":", "\"memoryBytes\":", ",", ":", "\"", "\\",
        }.Select(Encoding.UTF8.GetBytes),
        .. ApiSerializer.Types.Select(t => Encoding.UTF8.GetBytes(t.Manifest + "\n")),
    ];

    private static IReadOnlyList<byte[]> Seeds() =>
        Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Fuzz", "Corpus", "api")).Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList();

    /// <summary>Deserializes "MANIFEST\nPAYLOAD" and does with the message what a node and a client do.</summary>
    private void Handle(byte[] input)
    {
        int newline = Array.IndexOf(input, (byte)'\n');
        var manifest = Encoding.UTF8.GetString(newline < 0 ? input : input[..newline]);
        var payload = newline < 0 ? [] : input[(newline + 1)..];
        var message = _serializer.FromBinary(payload, manifest);
        if (message is ApiRequest request && ApiValidator.Validate(request, HardwareSpecLimits.Current) is null && request is CreateVmRequest create && Actorvisor.Hardware.Guests.GuestCatalog.IsPath(create.Spec.Image))
        {
            var (file, error) = _resolver.OpenFile(create.Spec.Image, "spec.image");
            Assert.True((file is null) != (error is null), "an open file or an error, never both or neither");
            file?.Dispose();
        }
        Assert.NotNull(message.ToString());
        Assert.NotEmpty(_serializer.ToBinary(message));
    }

    [Fact]
    public void Every_seed_is_a_valid_message()
    {
        var seeds = Seeds();
        Assert.Equal(ApiSerializer.Types.Count, seeds.Select(s => Encoding.UTF8.GetString(s).Split('\n')[0]).Distinct().Count());
        foreach (var seed in seeds)
        {
            Handle(seed);
            int newline = Array.IndexOf(seed, (byte)'\n');
            if (_serializer.FromBinary(seed[(newline + 1)..], Encoding.UTF8.GetString(seed[..newline])) is ApiRequest request)
                Assert.Null(ApiValidator.Validate(request, HardwareSpecLimits.Current));
        }
    }

    [Fact]
    public void The_deserializer_and_validator_refuse_or_accept_every_mutated_payload_without_throwing_anything_else()
    {
        var report = FuzzRun.Run("api", Seeds(), Handle, e => e is SerializationException, Dictionary, maxLength: 80 << 10);
        _output.WriteLine(report.ToString());
        Assert.True(report.Inputs >= 100 || FuzzRun.Replaying, report.ToString());
        Assert.True(report.Accepted > 0 || FuzzRun.Replaying, $"no mutated payload was accepted: the mutations never reach the validator ({report})");
    }
}
