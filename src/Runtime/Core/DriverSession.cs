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

    private static readonly Func<MySqlConnection, bool>? Running = CreateRunning();

    /// <summary>
    /// Whether a statement sent through <paramref name="connection"/> is still on its way: the driver's session is
    /// querying and the statement's first answer has not been read (no reader was handed out, or its reader is waiting
    /// for the next result), so code started it and did not await it. Disposing the connection then would dispose the
    /// reader under the statement and give the session back to its pool while the statement still reads from it, which
    /// then fails with a raw <see cref="NullReferenceException"/> inside the driver. A reader handed out and left open
    /// is not counted (disposing the connection reads it to its end), except one read past its last result and not
    /// disposed, which cannot be told apart. False when this cannot be told (another version of MySqlConnector).
    /// </summary>
    public static bool IsRunningStatement(MySqlConnection connection) => Running?.Invoke(connection) == true;

    /// <summary>
    /// <c>connection.m_session?.m_state is Querying or CancelingQuery &amp;&amp; (connection.m_activeReader is null
    /// || connection.m_activeReader.m_resultSet.State == None)</c>, compiled once; null when the driver keeps them
    /// elsewhere.
    /// </summary>
    private static Func<MySqlConnection, bool>? CreateRunning()
    {
        const BindingFlags Private = BindingFlags.Instance | BindingFlags.NonPublic;
        const BindingFlags Any = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;
        if (typeof(MySqlConnection).GetField("m_session", Private) is not { } sessionField
            || typeof(MySqlConnection).GetField("m_activeReader", Private) is not { } readerField
            || readerField.FieldType.GetField("m_resultSet", Private) is not { } resultField
            || resultField.FieldType.GetProperty("State", Any)
                is not { CanRead: true, PropertyType.IsEnum: true } resultState
            || sessionField.FieldType.GetField("m_state", Private) is not { FieldType.IsEnum: true } stateField
            || !Enum.IsDefined(stateField.FieldType, "Querying")
            || !Enum.IsDefined(stateField.FieldType, "CancelingQuery")
            || !Enum.IsDefined(resultState.PropertyType, "None"))
        {
            return null;
        }

        try
        {
            var connection = Expression.Parameter(typeof(MySqlConnection), "connection");
            var session = Expression.Variable(sessionField.FieldType, "session");
            var reader = Expression.Variable(readerField.FieldType, "reader");
            var state = Expression.Convert(Expression.Field(session, stateField), typeof(int));
            var answered = Expression.Convert(
                Expression.Property(Expression.Field(reader, resultField), resultState), typeof(int));
            var body = Expression.Block(
                typeof(bool),
                [session, reader],
                Expression.Assign(session, Expression.Field(connection, sessionField)),
                Expression.Assign(reader, Expression.Field(connection, readerField)),
                Expression.AndAlso(
                    Expression.AndAlso(
                        Expression.NotEqual(session, Expression.Constant(null, sessionField.FieldType)),
                        Expression.OrElse(
                            Expression.Equal(state, ValueOf(stateField.FieldType, "Querying")),
                            Expression.Equal(state, ValueOf(stateField.FieldType, "CancelingQuery")))),
                    Expression.OrElse(
                        Expression.Equal(reader, Expression.Constant(null, readerField.FieldType)),
                        Expression.Equal(answered, ValueOf(resultState.PropertyType, "None")))));
            return Expression.Lambda<Func<MySqlConnection, bool>>(body, connection).Compile();
        }
        catch (Exception exception)
            when (exception is InvalidOperationException or ArgumentException or NotSupportedException)
        {
            return null;
        }

        static ConstantExpression ValueOf(Type enumType, string name) =>
            Expression.Constant(
                Convert.ToInt32(Enum.Parse(enumType, name), System.Globalization.CultureInfo.InvariantCulture));
    }

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
