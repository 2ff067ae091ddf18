using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace TenantDbGuard.Runtime.Tests.Infrastructure;

/// <summary>
/// A TCP relay in front of a test server, for a fault the server itself does not make on demand: a session whose
/// statements are never answered. <see cref="SilenceExisting"/> stops handing the server's bytes to the connections
/// relayed so far (they still reach the relay, which drops them), while what the clients send still goes through and
/// connections made afterwards are relayed as usual. A connection that either side closes or shuts is closed on the
/// other side too, so that the server ends a session whose client gave it up.
/// </summary>
public sealed class SilencingRelay : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _targetPort;
    private readonly List<Relayed> _relayed = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private byte[]? _silenceOnSending;

    private SilencingRelay(int targetPort)
    {
        _targetPort = targetPort;
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = AcceptAsync();
    }

    /// <summary>The loopback port to connect to instead of the server's.</summary>
    public int Port { get; }

    /// <summary>Starts relaying connections on a port of its own to <paramref name="targetPort"/> on the loopback.</summary>
    public static SilencingRelay Start(int targetPort) => new(targetPort);

    /// <summary>From now on, the server's answers on every connection relayed so far are dropped.</summary>
    /// <returns>How many connections that is (closed ones included).</returns>
    public int SilenceExisting()
    {
        lock (_relayed)
        {
            foreach (var relayed in _relayed)
            {
                relayed.Silenced = true;
            }

            return _relayed.Count;
        }
    }

    /// <summary>
    /// The next connection whose client sends <paramref name="text"/> (within one read of the relay: statements are
    /// short) is silenced from then on, as <see cref="SilenceExisting"/> would; only that one.
    /// </summary>
    public void SilenceTheNextToSend(string text) => Volatile.Write(ref _silenceOnSending, System.Text.Encoding.UTF8.GetBytes(text));

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        lock (_relayed)
        {
            foreach (var relayed in _relayed)
            {
                relayed.Close();
            }
        }

        try
        {
            await _accepting;
        }
        catch (Exception exception) when (exception is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptSocketAsync(_stop.Token);
            var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            client.NoDelay = true;
            try
            {
                await server.ConnectAsync(new IPEndPoint(IPAddress.Loopback, _targetPort), _stop.Token);
            }
            catch (Exception exception) when (exception is SocketException or OperationCanceledException)
            {
                client.Dispose();
                server.Dispose();
                continue;
            }

            var relayed = new Relayed(client, server);
            lock (_relayed)
            {
                _relayed.Add(relayed);
            }

            _ = PumpAsync(relayed, client, server, silenceable: false);
            _ = PumpAsync(relayed, server, client, silenceable: true);
        }
    }

    private async Task PumpAsync(Relayed relayed, Socket from, Socket to, bool silenceable)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, SocketFlags.None);
                if (read == 0)
                {
                    break;
                }

                if (silenceable && relayed.Silenced)
                {
                    continue;
                }

                if (!silenceable && Volatile.Read(ref _silenceOnSending) is { } marker
                    && buffer.AsSpan(0, read).IndexOf(marker) >= 0
                    && Interlocked.CompareExchange(ref _silenceOnSending, null, marker) == marker)
                {
                    relayed.Silenced = true;
                }

                var sent = 0;
                while (sent < read)
                {
                    sent += await to.SendAsync(buffer.AsMemory(sent, read - sent), SocketFlags.None);
                }
            }
        }
        catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
        {
            // One side went away: the other is closed below.
        }
        finally
        {
            relayed.Close();
        }
    }

    private sealed class Relayed(Socket client, Socket server)
    {
        private volatile bool _silenced;
        private int _closed;

        public bool Silenced
        {
            get => _silenced;
            set => _silenced = value;
        }

        public void Close()
        {
            if (Interlocked.Exchange(ref _closed, 1) == 0)
            {
                client.Dispose();
                server.Dispose();
            }
        }
    }
}
