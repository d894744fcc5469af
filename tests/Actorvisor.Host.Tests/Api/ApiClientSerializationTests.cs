using Actorvisor.Host.Api.Client;
using Actorvisor.Host.Api.V1;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Cluster.Tools.PublishSubscribe.Serialization;
using Akka.Serialization;

namespace Actorvisor.Host.Tests.Api;

public class ApiClientSerializationTests
{
    [Fact]
    public async Task A_client_never_falls_back_to_the_reflection_serializer_for_what_it_sends()
    {
        await using var client = ApiClient.Connect(new ApiClientOptions("actorvisor", ["127.0.0.1:1"], null, TimeSpan.FromSeconds(1)));
        var serialization = client.System.Serialization;
        // ClusterClient wraps requests in a pub-sub Send; it and its payload must use explicit serializers.
        Assert.IsType<DistributedPubSubMessageSerializer>(serialization.FindSerializerForType(typeof(Send)));
        Assert.IsType<ApiSerializer>(serialization.FindSerializerFor(new StartVmRequest("a")));
        Assert.IsNotType<NewtonSoftJsonSerializer>(serialization.FindSerializerFor(new Send("/user/api", new StartVmRequest("a"))));
    }
}
