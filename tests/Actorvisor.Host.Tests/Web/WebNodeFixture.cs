namespace Actorvisor.Host.Tests.Web;

/// <summary>One <see cref="WebNode"/> shared by the tests of a class (a node takes seconds to start).</summary>
public sealed class WebNodeFixture : IAsyncLifetime
{
    public WebNode Node { get; private set; } = null!;

    public async Task InitializeAsync() => Node = await WebNode.StartAsync();

    public async Task DisposeAsync() => await Node.DisposeAsync();
}
