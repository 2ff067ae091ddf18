using System;
using System.Net.Sockets;
using System.Linq.Expressions;
using System.Reflection;
using MySqlConnector;

namespace TenantDbGuard.Core;

/// <summary>
/// Asks the operating system, without a round trip, whether an open connection's socket is quiet: not closed by the
/// server, and with nothing unread on it. A pooled connection that the server killed while it was idle has received
/// the server's close by the time it is taken again (within a network round trip of the kill); this finds it before a
/// statement is sent on it, so the lease can go to another connection with nothing sent.
/// </summary>
/// <remarks>
/// MySqlConnector does not make the socket public; it is read from the driver's session object by name, once
/// (MySqlConnector 2.x keeps it in <c>MySqlConnection.m_session</c> and <c>ServerSession.m_socket</c>). When a
/// version of the driver keeps it elsewhere, <see cref="IsQuiet"/> answers false and the runtime checks the connection
/// with a round trip instead, as it would without this probe.
/// </remarks>
internal static class SocketProbe
{
    private static readonly Func<MySqlConnection, Socket?>? SocketOfAccessor = CreateAccessor();

    /// <summary>Whether the probe can read sockets with this version of MySqlConnector.</summary>
    public static bool IsAvailable => SocketOfAccessor is not null;

    /// <summary>
    /// True when <paramref name="connection"/>'s socket is open with nothing to read; false when the server closed it,
    /// something is waiting to be read (nothing should be, between two statements), or it cannot be told.
    /// </summary>
    public static bool IsQuiet(MySqlConnection connection)
    {
        if (SocketOf(connection) is not { } socket)
        {
            return false;
        }

        try
        {
            // Readable means data, or the peer's close (which reads as zero bytes): either way not quiet.
            return !socket.Poll(0, SelectMode.SelectRead);
        }
        catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>
    /// Shuts <paramref name="socket"/> both ways: whatever reads or writes on it fails at once, and the server ends the
    /// session. False when there is no socket to shut (the driver keeps it elsewhere); true also when it was closed already.
    /// </summary>
    public static bool ShutDown(Socket? socket)
    {
        if (socket is null)
        {
            return false;
        }

        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
        {
            // Closed already: what ran on it has failed all the same.
        }

        return true;
    }

    /// <summary>The socket of <paramref name="connection"/>'s session; null when it has none or cannot be read.</summary>
    public static Socket? SocketOf(MySqlConnection connection) => SocketOfAccessor?.Invoke(connection);

    /// <summary><c>connection.m_session?.m_socket</c>, compiled once; null when the driver keeps them elsewhere.</summary>
    private static Func<MySqlConnection, Socket?>? CreateAccessor()
    {
        const BindingFlags Private = BindingFlags.Instance | BindingFlags.NonPublic;
        if (typeof(MySqlConnection).GetField("m_session", Private) is not { } sessionField
            || sessionField.FieldType.GetField("m_socket", Private) is not { } socketField
            || socketField.FieldType != typeof(Socket))
        {
            return null;
        }

        try
        {
            var connection = Expression.Parameter(typeof(MySqlConnection), "connection");
            var session = Expression.Variable(sessionField.FieldType, "session");
            var body = Expression.Block(
                [session],
                Expression.Assign(session, Expression.Field(connection, sessionField)),
                Expression.Condition(
                    Expression.Equal(session, Expression.Constant(null, sessionField.FieldType)),
                    Expression.Constant(null, typeof(Socket)),
                    Expression.Field(session, socketField)));
            return Expression.Lambda<Func<MySqlConnection, Socket?>>(body, connection).Compile();
        }
        catch (Exception exception) when (exception is InvalidOperationException or ArgumentException or NotSupportedException)
        {
            return null;
        }
    }
}
