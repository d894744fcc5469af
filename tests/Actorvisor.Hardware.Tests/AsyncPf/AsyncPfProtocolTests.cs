using Actorvisor.Hardware.AsyncPf;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Tests.AsyncPf;

/// <summary>The vCPU side of KVM's async page-fault protocol: when events are sent, what the area holds, ACK gating, flushes.</summary>
public sealed class AsyncPfProtocolTests
{
    private const ulong Area = 0x2000;
    private const ulong Ram = 0x10000;
    private const int Vector = 0xec;
    private const ulong EnabledAsInt = KvmParavirtMsrs.Enabled | KvmParavirtMsrs.DeliveryAsInt;

    /// <summary>Guest RAM [0, 64 KiB) as 32-bit words.</summary>
    private sealed class FakeArea : IAsyncPfGuestArea
    {
        public readonly Dictionary<ulong, uint> Words = [];

        public bool TryRead32(ulong gpa, out uint value)
        {
            value = Words.GetValueOrDefault(gpa);
            return gpa < Ram;
        }

        public bool TryWrite32(ulong gpa, uint value)
        {
            if (gpa >= Ram) return false;
            Words[gpa] = value;
            return true;
        }

        public uint Flags => Words.GetValueOrDefault(Area);
        public uint Token => Words.GetValueOrDefault(Area + AsyncPfProtocol.TokenOffset);
    }

    private readonly FakeArea _area = new();
    private readonly List<int> _raised = [];

    private AsyncPfProtocol Enabled(ulong extraBits = KvmParavirtMsrs.SendAlways)
    {
        var p = new AsyncPfProtocol(3, _area, _raised.Add);
        p.WriteVector(Vector);
        p.WriteEnable(Area | EnabledAsInt | extraBits);
        return p;
    }

    /// <summary>The guest's page-ready handler: read and free the token, then ACK.</summary>
    private uint GuestTakesReady(AsyncPfProtocol p)
    {
        uint token = _area.Token;
        _area.Words[Area + AsyncPfProtocol.TokenOffset] = 0;
        p.Acknowledge(1);
        return token;
    }

    [Fact]
    public void NothingIsSentUnlessTheGuestEnabledInterruptDelivery()
    {
        var off = new AsyncPfProtocol(0, _area, _raised.Add);
        Assert.False(off.TryBeginNotPresent(1, interruptsEnabled: true, kernelMode: false, out _));
        var noInt = new AsyncPfProtocol(0, _area, _raised.Add);
        noInt.WriteEnable(Area | KvmParavirtMsrs.Enabled | KvmParavirtMsrs.SendAlways);
        Assert.False(noInt.IsEnabled);
        Assert.False(noInt.TryBeginNotPresent(1, interruptsEnabled: true, kernelMode: false, out _));
        Assert.Equal(0u, _area.Flags);
    }

    [Fact]
    public void NotPresentNeedsInterruptsAndInKernelModeSendAlways()
    {
        var userOnly = Enabled(extraBits: 0);
        Assert.False(userOnly.TryBeginNotPresent(1, interruptsEnabled: false, kernelMode: false, out _));
        Assert.False(userOnly.TryBeginNotPresent(1, interruptsEnabled: true, kernelMode: true, out _));
        Assert.Equal(0u, _area.Flags);
        Assert.True(userOnly.TryBeginNotPresent(1, interruptsEnabled: true, kernelMode: false, out uint token));
        Assert.Equal(AsyncPfProtocol.PageNotPresentReason, _area.Flags);
        Assert.NotEqual(0u, token);
        Assert.Equal(3u, token & 0xfff); // the vCPU ID in the low bits, as KVM makes it
        Assert.True(Enabled().TryBeginNotPresent(2, interruptsEnabled: true, kernelMode: true, out _));
    }

    [Fact]
    public void PastThePerVcpuLimitTheFaultIsResolvedSynchronously()
    {
        var p = Enabled();
        var tokens = new HashSet<uint>();
        for (int i = 0; i < AsyncPfProtocol.PerVcpuLimit; i++)
        {
            Assert.True(p.TryBeginNotPresent((ulong)i, true, true, out uint t));
            tokens.Add(t);
        }
        Assert.Equal(AsyncPfProtocol.PerVcpuLimit, tokens.Count);
        Assert.False(p.TryBeginNotPresent(999, true, true, out _));
        p.PageReady(tokens.First());
        Assert.True(p.TryBeginNotPresent(999, true, true, out _));
    }

    [Fact]
    public void PageReadyWritesTheTokenAndRaisesTheVectorOneAtATimeUntilAcked()
    {
        var p = Enabled();
        Assert.True(p.TryBeginNotPresent(1, true, true, out uint first));
        Assert.True(p.TryBeginNotPresent(2, true, true, out uint second));
        p.PageReady(first);
        p.PageReady(second);
        Assert.Equal([Vector], _raised);
        Assert.Equal(first, _area.Token);
        Assert.Equal(1, p.Queued);

        // A guest that never ACKs gets no second page-ready; nor does an ACK with the token still in the area.
        p.Acknowledge(1);
        Assert.Single(_raised);
        Assert.Equal(first, GuestTakesReady(p));
        Assert.Equal([Vector, Vector], _raised);
        Assert.Equal(second, _area.Token);
        Assert.Equal(second, GuestTakesReady(p));
        Assert.Equal(2, _raised.Count);
        Assert.Equal(0, p.Outstanding);
        Assert.Equal(2, p.ReadySent);
    }

    [Fact]
    public void WakeupAllIsDeliveredWithItsOwnToken()
    {
        var p = Enabled();
        p.WakeupAll();
        Assert.Equal([Vector], _raised);
        Assert.Equal(AsyncPfProtocol.WakeupAllToken, _area.Token);
    }

    [Fact]
    public void DisablingFlushesOutstandingAndQueuedEvents()
    {
        var p = Enabled();
        Assert.True(p.TryBeginNotPresent(1, true, true, out uint a));
        Assert.True(p.TryBeginNotPresent(2, true, true, out uint b));
        Assert.True(p.TryBeginNotPresent(3, true, true, out uint c));
        p.PageReady(a);
        p.PageReady(b); // held behind a
        p.WriteEnable(0);
        Assert.Equal(0, p.Outstanding);
        Assert.Equal(0, p.Queued);
        Assert.Equal(2, p.Flushed); // b queued, c outstanding
        _area.Words[Area + AsyncPfProtocol.TokenOffset] = 0;
        p.PageReady(c); // its page arrives after the flush: nothing is written or raised
        p.Acknowledge(1);
        Assert.Single(_raised);
        Assert.Equal(0u, _area.Token);
    }

    [Fact]
    public void FlushDropsEverythingAndLaterReadiesOfOldTokensAreIgnored()
    {
        var p = Enabled();
        Assert.True(p.TryBeginNotPresent(1, true, true, out uint a));
        p.Flush();
        p.PageReady(a);
        Assert.Empty(_raised);
        Assert.Equal(0u, _area.Token);
        Assert.Equal(1, p.Flushed);
    }

    [Fact]
    public void AnAreaOutsideGuestRamSendsNothing()
    {
        var p = new AsyncPfProtocol(0, _area, _raised.Add);
        p.WriteVector(Vector);
        p.WriteEnable(Ram | EnabledAsInt | KvmParavirtMsrs.SendAlways);
        Assert.False(p.TryBeginNotPresent(1, true, true, out _));
        p.WakeupAll();
        Assert.Empty(_raised);
    }

    [Fact]
    public void AfterCloseNothingIsSentOrWritten()
    {
        var p = Enabled();
        Assert.True(p.TryBeginNotPresent(1, true, true, out uint a));
        _area.Words.Clear();
        p.Close();
        p.PageReady(a);
        p.WakeupAll();
        Assert.False(p.TryBeginNotPresent(2, true, true, out _));
        Assert.Empty(_raised);
        Assert.Empty(_area.Words);
    }
}
