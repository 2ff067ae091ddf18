using System;
using System.Linq.Expressions;
using System.Reflection;
using MySqlConnector;

namespace TenantDbGuard.Core;

/// <summary>
/// Makes MySqlConnector forget that code moved a session to another database (a <c>USE</c>, or
/// <see cref="MySqlConnection.ChangeDatabase"/>), so that the session leaves its pool as it is instead of being reset
/// with <c>COM_CHANGE_USER</c> inside the next open.
/// </summary>
/// <remarks>
/// <para>
/// MySqlConnector notes a database change the server reports on a session, and the next time that session is taken from
/// its pool it resets it with <c>COM_CHANGE_USER</c> before the open returns. For the runtime that reset is both
/// unneeded (every lease's first statement puts the session on its tenant's database, and the runtime resets sessions
/// itself, within <see cref="TenantDbGuardOptions.ResetTimeout"/>) and harmful: it runs inside an open that no timeout
/// of the runtime bounds and no cancellation interrupts, and after a lease that left a statement or reader running, the
/// abandoned statement and the <c>COM_CHANGE_USER</c> exchange read from the same socket, so that both ends wait for
/// each other: the server shows the session in <c>Change user</c>, reading from the network, for as long as the
/// driver's connect timeout (15 s by default).
/// </para>
/// <para>
/// MySqlConnector does not make the note public; it is cleared on the driver's session object by name, once
/// (MySqlConnector 2.x keeps the session in <c>MySqlConnection.m_session</c> and the note in
/// <c>ServerSession.DatabaseOverride</c>). When a version of the driver keeps them elsewhere, <see cref="Of"/> answers
/// null, nothing is cleared, and the driver resets such a session itself, as it did before this class.
/// </para>
/// </remarks>
internal static class DriverSession
{
    private static readonly (Func<MySqlConnection, object?> Of, Action<object> Forget)? Accessors = CreateAccessors();

    /// <summary>Whether the database change can be forgotten with this version of MySqlConnector.</summary>
    public static bool IsAvailable => Accessors is not null;

    /// <summary>The driver's session object that <paramref name="connection"/> holds (null when closed, or unknown).</summary>
    public static object? Of(MySqlConnection connection) => Accessors?.Of(connection);

    /// <summary>Forgets a database change on <paramref name="session"/> (from <see cref="Of"/>); null does nothing.</summary>
    public static void ForgetDatabaseChange(object? session)
    {
        if (session is not null)
        {
            Accessors?.Forget(session);
        }
    }

    /// <summary>
    /// Whether the driver has given up <paramref name="session"/> (from <see cref="Of"/>): a network error or the server's
    /// close ended it. MySqlConnector destroys such a session when it comes back to its pool, and the next open of the
    /// pool connects a new one, in place of one the server may still hold. False when it is live or this cannot be told.
    /// </summary>
    public static bool IsLost(object? session) => session is not null && Connected?.Invoke(session) == false;

    private static readonly Func<object, bool>? Connected = CreateConnected();

    /// <summary><c>session.IsConnected</c>, compiled once; null when the driver has no such property.</summary>
    private static Func<object, bool>? CreateConnected()
    {
        if (typeof(MySqlConnection).GetField("m_session", BindingFlags.Instance | BindingFlags.NonPublic) is not { } sessionField
            || sessionField.FieldType.GetProperty("IsConnected", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic) is not { CanRead: true } property
            || property.PropertyType != typeof(bool))
        {
            return null;
        }

        try
        {
            var session = Expression.Parameter(typeof(object), "session");
            return Expression.Lambda<Func<object, bool>>(Expression.Property(Expression.Convert(session, sessionField.FieldType), property), session).Compile();
        }
        catch (Exception exception) when (exception is InvalidOperationException or ArgumentException or NotSupportedException)
        {
            return null;
        }
    }

    /// <summary><c>connection.m_session</c> and <c>session.DatabaseOverride = null</c>, compiled once; null when the driver keeps them elsewhere.</summary>
    private static (Func<MySqlConnection, object?>, Action<object>)? CreateAccessors()
    {
        const BindingFlags Private = BindingFlags.Instance | BindingFlags.NonPublic;
        if (typeof(MySqlConnection).GetField("m_session", Private) is not { } sessionField
            || sessionField.FieldType.GetProperty("DatabaseOverride", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic) is not { CanWrite: true } overrideProperty
            || overrideProperty.PropertyType != typeof(string))
        {
            return null;
        }

        try
        {
            var connection = Expression.Parameter(typeof(MySqlConnection), "connection");
            var of = Expression.Lambda<Func<MySqlConnection, object?>>(
                Expression.Convert(Expression.Field(connection, sessionField), typeof(object)),
                connection).Compile();
            var session = Expression.Parameter(typeof(object), "session");
            var forget = Expression.Lambda<Action<object>>(
                Expression.Assign(
                    Expression.Property(Expression.Convert(session, sessionField.FieldType), overrideProperty),
                    Expression.Constant(null, typeof(string))),
                session).Compile();
            return (of, forget);
        }
        catch (Exception exception) when (exception is InvalidOperationException or ArgumentException or NotSupportedException)
        {
            return null;
        }
    }
}
