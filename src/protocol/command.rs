//! NetConnection and NetStream commands, status objects and data messages.
//!
//! A command message (type 20, or 17 with a leading format byte) is a sequence of AMF0
//! values: the command name, a transaction id, a command object (often null) and
//! arguments. [`Command`] is that raw form; [`NetCommand`] gives the commands RTMP peers
//! exchange typed fields, and keeps anything else as a raw [`Command`].

use bytes::Bytes;

use super::amf::{AmfError, AmfLimits};
use super::amf0::{self, Amf0Reader, Amf0Value};

/// Errors in command and data message bodies.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    #[error("AMF: {0}")]
    Amf(#[from] AmfError),
    #[error("command message without a name")]
    MissingName,
    #[error("{command}: missing or invalid {field}")]
    MissingField {
        command: &'static str,
        field: &'static str,
    },
}

/// A command in its raw form: name, transaction id, command object and arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub name: String,
    pub transaction_id: f64,
    pub command_object: Amf0Value,
    pub arguments: Vec<Amf0Value>,
}

impl Command {
    /// A command with a null command object.
    pub fn new(name: impl Into<String>, transaction_id: f64, arguments: Vec<Amf0Value>) -> Self {
        Command {
            name: name.into(),
            transaction_id,
            command_object: Amf0Value::Null,
            arguments,
        }
    }

    /// Parses the body of a command message. `amf3` is true for type 17, whose body starts
    /// with a format byte and may switch values to AMF3.
    pub fn decode(payload: &[u8], amf3: bool, limits: AmfLimits) -> Result<Self, CommandError> {
        let body = if amf3 && payload.first() == Some(&0) {
            &payload[1..]
        } else {
            payload
        };
        let mut reader = Amf0Reader::new(body, limits);
        let name = match reader.read_value()? {
            Amf0Value::String(s) | Amf0Value::LongString(s) => s,
            Amf0Value::AvmPlus(super::amf3::Amf3Value::String(s)) => s,
            _ => return Err(CommandError::MissingName),
        };
        // Some peers end a command right after its name (e.g. onBWDone from old servers).
        let transaction_id = if reader.is_empty() {
            0.0
        } else {
            reader.read_value()?.as_f64().unwrap_or(0.0)
        };
        let command_object = if reader.is_empty() {
            Amf0Value::Null
        } else {
            reader.read_value()?
        };
        let mut arguments = Vec::new();
        while !reader.is_empty() {
            arguments.push(reader.read_value()?);
        }
        Ok(Command {
            name,
            transaction_id,
            command_object,
            arguments,
        })
    }

    /// Serializes the command as an AMF0 command message body (type 20).
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(128);
        amf0::encode(&Amf0Value::String(self.name.clone()), &mut out);
        amf0::encode(&Amf0Value::Number(self.transaction_id), &mut out);
        amf0::encode(&self.command_object, &mut out);
        amf0::encode_all(&self.arguments, &mut out);
        out.into()
    }

    fn argument(&self, index: usize) -> Option<&Amf0Value> {
        self.arguments.get(index)
    }

    fn string_argument(&self, index: usize) -> Option<String> {
        self.argument(index)
            .and_then(Amf0Value::as_str)
            .map(str::to_owned)
    }
}

/// How a publisher asks the server to treat its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PublishType {
    /// Relay only (the default).
    Live,
    /// Record to a new file.
    Record,
    /// Record, appending to an existing file.
    Append,
}

impl PublishType {
    /// The value sent in the publish command.
    pub fn as_str(self) -> &'static str {
        match self {
            PublishType::Live => "live",
            PublishType::Record => "record",
            PublishType::Append => "append",
        }
    }

    fn parse(s: Option<&str>) -> Self {
        match s {
            Some("record") => PublishType::Record,
            Some("append") | Some("appendWithGap") => PublishType::Append,
            _ => PublishType::Live,
        }
    }
}

/// The connect command's parameters. The whole command object is kept, so properties this
/// library does not name (and those of future extensions) reach the application.
#[derive(Debug, Clone, PartialEq)]
pub struct Connect {
    pub transaction_id: f64,
    /// The command object: app, tcUrl, flashVer, fourCcList, capsEx, ...
    pub properties: Vec<(String, Amf0Value)>,
    /// Extra arguments after the command object (some services pass credentials here).
    pub arguments: Vec<Amf0Value>,
}

impl Connect {
    /// A connect command for `app` at `tc_url`, with the properties encoders usually send.
    pub fn new(app: &str, tc_url: &str) -> Self {
        Connect {
            transaction_id: 1.0,
            properties: vec![
                ("app".into(), app.into()),
                ("type".into(), "nonprivate".into()),
                ("flashVer".into(), "FMLE/3.0 (compatible; rtmp_core)".into()),
                ("tcUrl".into(), tc_url.into()),
            ],
            arguments: Vec::new(),
        }
    }

    /// Sets or replaces one property.
    pub fn set(&mut self, key: &str, value: Amf0Value) {
        match self.properties.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.properties.push((key.to_owned(), value)),
        }
    }

    /// A property of the command object.
    pub fn get(&self, key: &str) -> Option<&Amf0Value> {
        self.properties
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Amf0Value::as_str)
    }

    /// The application name (the path after the host in the URL).
    pub fn app(&self) -> &str {
        self.get_str("app").unwrap_or("")
    }

    /// The URL the client connected to.
    pub fn tc_url(&self) -> Option<&str> {
        self.get_str("tcUrl")
    }

    /// The client's software, e.g. "FMLE/3.0 (compatible; Lavf61.7.100)".
    pub fn flash_ver(&self) -> Option<&str> {
        self.get_str("flashVer")
    }

    /// 0 for AMF0 (the default), 3 when the client wants AMF3 commands.
    pub fn object_encoding(&self) -> f64 {
        self.get("objectEncoding")
            .and_then(Amf0Value::as_f64)
            .unwrap_or(0.0)
    }

    /// Enhanced RTMP: the codecs (FourCC strings such as "hvc1", "av01") the client supports.
    pub fn fourcc_list(&self) -> Vec<String> {
        match self.get("fourCcList") {
            Some(Amf0Value::StrictArray(items)) => items
                .iter()
                .filter_map(Amf0Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Enhanced RTMP: the extended capability flags (reconnect, multitrack, ModEx, ...).
    pub fn caps_ex(&self) -> Option<u32> {
        self.get("capsEx")
            .and_then(Amf0Value::as_f64)
            .map(|v| v as u32)
    }

    fn into_command(self) -> Command {
        Command {
            name: "connect".into(),
            transaction_id: self.transaction_id,
            command_object: Amf0Value::Object(self.properties),
            arguments: self.arguments,
        }
    }
}

/// Enhanced RTMP capsEx flags.
pub mod caps_ex {
    /// Supports NetConnection.Connect.ReconnectRequest.
    pub const RECONNECT: u32 = 0x01;
    /// Supports multitrack audio/video.
    pub const MULTITRACK: u32 = 0x02;
    /// Can parse ModEx signals.
    pub const MODEX: u32 = 0x04;
    /// Supports nanosecond timestamp offsets.
    pub const TIMESTAMP_NANO_OFFSET: u32 = 0x08;
}

/// The level of an onStatus / _result / _error info object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusLevel {
    Status,
    Warning,
    Error,
}

impl StatusLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusLevel::Status => "status",
            StatusLevel::Warning => "warning",
            StatusLevel::Error => "error",
        }
    }
}

/// Status codes as Flash Media Server, nginx-rtmp and SRS send them.
pub mod status_code {
    pub const CONNECT_SUCCESS: &str = "NetConnection.Connect.Success";
    pub const CONNECT_REJECTED: &str = "NetConnection.Connect.Rejected";
    pub const CONNECT_CLOSED: &str = "NetConnection.Connect.Closed";
    pub const CONNECT_FAILED: &str = "NetConnection.Connect.Failed";
    pub const CONNECT_INVALID_APP: &str = "NetConnection.Connect.InvalidApp";
    /// Enhanced RTMP: the server asks the client to reconnect (tcUrl may move it).
    pub const CONNECT_RECONNECT_REQUEST: &str = "NetConnection.Connect.ReconnectRequest";
    pub const PUBLISH_START: &str = "NetStream.Publish.Start";
    pub const PUBLISH_BAD_NAME: &str = "NetStream.Publish.BadName";
    pub const PUBLISH_DENIED: &str = "NetStream.Publish.Denied";
    pub const UNPUBLISH_SUCCESS: &str = "NetStream.Unpublish.Success";
    pub const PLAY_START: &str = "NetStream.Play.Start";
    pub const PLAY_RESET: &str = "NetStream.Play.Reset";
    pub const PLAY_STOP: &str = "NetStream.Play.Stop";
    pub const PLAY_STREAM_NOT_FOUND: &str = "NetStream.Play.StreamNotFound";
    pub const PLAY_FAILED: &str = "NetStream.Play.Failed";
    pub const PLAY_PUBLISH_NOTIFY: &str = "NetStream.Play.PublishNotify";
    pub const PLAY_UNPUBLISH_NOTIFY: &str = "NetStream.Play.UnpublishNotify";
    pub const PAUSE_NOTIFY: &str = "NetStream.Pause.Notify";
    pub const UNPAUSE_NOTIFY: &str = "NetStream.Unpause.Notify";
    pub const SEEK_NOTIFY: &str = "NetStream.Seek.Notify";
    pub const DATA_START: &str = "NetStream.Data.Start";
}

/// An info object: level, code, description and any further properties.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub level: StatusLevel,
    pub code: String,
    pub description: String,
    /// Further properties (details, clientid, objectEncoding, tcUrl for a reconnect, ...).
    pub extra: Vec<(String, Amf0Value)>,
}

impl Status {
    pub fn new(level: StatusLevel, code: &str, description: impl Into<String>) -> Self {
        Status {
            level,
            code: code.to_owned(),
            description: description.into(),
            extra: Vec::new(),
        }
    }

    /// Adds a property after level, code and description.
    pub fn with(mut self, key: &str, value: impl Into<Amf0Value>) -> Self {
        self.extra.push((key.to_owned(), value.into()));
        self
    }

    /// Reads an info object; `None` if it has no code.
    pub fn from_amf(value: &Amf0Value) -> Option<Self> {
        let props = value.properties()?;
        let get = |k: &str| props.iter().find(|(key, _)| key == k).map(|(_, v)| v);
        let code = get("code")?.as_str()?.to_owned();
        let level = match get("level").and_then(Amf0Value::as_str) {
            Some("error") => StatusLevel::Error,
            Some("warning") => StatusLevel::Warning,
            _ => StatusLevel::Status,
        };
        let description = get("description")
            .and_then(Amf0Value::as_str)
            .unwrap_or("")
            .to_owned();
        let extra = props
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "level" | "code" | "description"))
            .cloned()
            .collect();
        Some(Status {
            level,
            code,
            description,
            extra,
        })
    }

    /// The info object as AMF0.
    pub fn to_amf(&self) -> Amf0Value {
        let mut props = vec![
            ("level".to_owned(), Amf0Value::from(self.level.as_str())),
            ("code".to_owned(), Amf0Value::from(self.code.as_str())),
            (
                "description".to_owned(),
                Amf0Value::from(self.description.as_str()),
            ),
        ];
        props.extend(self.extra.iter().cloned());
        Amf0Value::Object(props)
    }

    /// True for error-level statuses.
    pub fn is_error(&self) -> bool {
        self.level == StatusLevel::Error
    }
}

/// The commands RTMP peers exchange, typed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum NetCommand {
    Connect(Connect),
    /// A successful response to the command with the same transaction id.
    Result {
        transaction_id: f64,
        properties: Amf0Value,
        /// The info object or value (createStream's stream id, connect's status).
        info: Amf0Value,
    },
    /// A failed response.
    Error {
        transaction_id: f64,
        properties: Amf0Value,
        info: Amf0Value,
    },
    OnStatus(Status),
    CreateStream {
        transaction_id: f64,
    },
    ReleaseStream {
        transaction_id: f64,
        stream_name: String,
    },
    FcPublish {
        transaction_id: f64,
        stream_name: String,
    },
    FcUnpublish {
        transaction_id: f64,
        stream_name: String,
    },
    Publish {
        transaction_id: f64,
        stream_name: String,
        publish_type: PublishType,
    },
    Play {
        transaction_id: f64,
        stream_name: String,
        /// -2: live or recorded, -1: live only, >= 0: recorded from this position (ms).
        start: f64,
        /// -1: until the end; 0: a single frame; > 0: this many milliseconds.
        duration: f64,
        reset: bool,
    },
    Play2 {
        transaction_id: f64,
        parameters: Amf0Value,
    },
    Pause {
        transaction_id: f64,
        pause: bool,
        position_ms: f64,
    },
    Seek {
        transaction_id: f64,
        position_ms: f64,
    },
    DeleteStream {
        transaction_id: f64,
        stream_id: f64,
    },
    CloseStream {
        transaction_id: f64,
    },
    ReceiveAudio {
        enable: bool,
    },
    ReceiveVideo {
        enable: bool,
    },
    GetStreamLength {
        transaction_id: f64,
        stream_name: String,
    },
    OnBwDone,
    CheckBw {
        transaction_id: f64,
    },
    /// Anything else, kept raw.
    Other(Command),
}

impl NetCommand {
    /// Gives a raw command its typed form. Commands whose required arguments are missing
    /// are an error; unknown commands become [`NetCommand::Other`].
    pub fn from_command(c: Command) -> Result<Self, CommandError> {
        let tx = c.transaction_id;
        let missing = |command, field| CommandError::MissingField { command, field };
        Ok(match c.name.as_str() {
            "connect" => {
                let properties = match c.command_object {
                    Amf0Value::Object(p) | Amf0Value::EcmaArray(p) => p,
                    Amf0Value::TypedObject { properties, .. } => properties,
                    _ => return Err(missing("connect", "command object")),
                };
                NetCommand::Connect(Connect {
                    transaction_id: tx,
                    properties,
                    arguments: c.arguments,
                })
            }
            "_result" | "_error" => {
                let mut args = c.arguments.into_iter();
                let info = args.next().unwrap_or(Amf0Value::Undefined);
                if c.name == "_result" {
                    NetCommand::Result {
                        transaction_id: tx,
                        properties: c.command_object,
                        info,
                    }
                } else {
                    NetCommand::Error {
                        transaction_id: tx,
                        properties: c.command_object,
                        info,
                    }
                }
            }
            "onStatus" => {
                let info = c.argument(0).unwrap_or(&c.command_object);
                NetCommand::OnStatus(
                    Status::from_amf(info).ok_or(missing("onStatus", "info object"))?,
                )
            }
            "createStream" => NetCommand::CreateStream { transaction_id: tx },
            "releaseStream" | "FCPublish" | "FCUnpublish" | "getStreamLength" => {
                // An empty name is legal in these (some encoders send none at all).
                let stream_name = c.string_argument(0).unwrap_or_default();
                match c.name.as_str() {
                    "releaseStream" => NetCommand::ReleaseStream {
                        transaction_id: tx,
                        stream_name,
                    },
                    "FCPublish" => NetCommand::FcPublish {
                        transaction_id: tx,
                        stream_name,
                    },
                    "FCUnpublish" => NetCommand::FcUnpublish {
                        transaction_id: tx,
                        stream_name,
                    },
                    _ => NetCommand::GetStreamLength {
                        transaction_id: tx,
                        stream_name,
                    },
                }
            }
            "publish" => NetCommand::Publish {
                transaction_id: tx,
                stream_name: c
                    .string_argument(0)
                    .ok_or(missing("publish", "stream name"))?,
                publish_type: PublishType::parse(c.argument(1).and_then(Amf0Value::as_str)),
            },
            "play" => NetCommand::Play {
                transaction_id: tx,
                stream_name: c.string_argument(0).ok_or(missing("play", "stream name"))?,
                start: c.argument(1).and_then(Amf0Value::as_f64).unwrap_or(-2.0),
                duration: c.argument(2).and_then(Amf0Value::as_f64).unwrap_or(-1.0),
                reset: c.argument(3).and_then(Amf0Value::as_bool).unwrap_or(true),
            },
            "play2" => NetCommand::Play2 {
                transaction_id: tx,
                parameters: c.arguments.into_iter().next().unwrap_or(Amf0Value::Null),
            },
            "pause" | "pauseRaw" => NetCommand::Pause {
                transaction_id: tx,
                pause: c.argument(0).and_then(Amf0Value::as_bool).unwrap_or(true),
                position_ms: c.argument(1).and_then(Amf0Value::as_f64).unwrap_or(0.0),
            },
            "seek" => NetCommand::Seek {
                transaction_id: tx,
                position_ms: c
                    .argument(0)
                    .and_then(Amf0Value::as_f64)
                    .ok_or(missing("seek", "position"))?,
            },
            "deleteStream" => NetCommand::DeleteStream {
                transaction_id: tx,
                stream_id: c.argument(0).and_then(Amf0Value::as_f64).unwrap_or(0.0),
            },
            "closeStream" => NetCommand::CloseStream { transaction_id: tx },
            "receiveAudio" | "receiveVideo" => {
                let enable = c.argument(0).and_then(Amf0Value::as_bool).unwrap_or(true);
                if c.name == "receiveAudio" {
                    NetCommand::ReceiveAudio { enable }
                } else {
                    NetCommand::ReceiveVideo { enable }
                }
            }
            "onBWDone" => NetCommand::OnBwDone,
            "_checkbw" => NetCommand::CheckBw { transaction_id: tx },
            _ => NetCommand::Other(c),
        })
    }

    /// The raw form of this command, ready to [`encode`](Command::encode).
    pub fn into_command(self) -> Command {
        use Amf0Value::{Null, Number};
        let named = |name: &str, tx: f64, args: Vec<Amf0Value>| Command::new(name, tx, args);
        match self {
            NetCommand::Connect(c) => c.into_command(),
            NetCommand::Result {
                transaction_id,
                properties,
                info,
            } => Command {
                name: "_result".into(),
                transaction_id,
                command_object: properties,
                arguments: vec![info],
            },
            NetCommand::Error {
                transaction_id,
                properties,
                info,
            } => Command {
                name: "_error".into(),
                transaction_id,
                command_object: properties,
                arguments: vec![info],
            },
            NetCommand::OnStatus(status) => named("onStatus", 0.0, vec![status.to_amf()]),
            NetCommand::CreateStream { transaction_id } => {
                named("createStream", transaction_id, vec![])
            }
            NetCommand::ReleaseStream {
                transaction_id,
                stream_name,
            } => named("releaseStream", transaction_id, vec![stream_name.into()]),
            NetCommand::FcPublish {
                transaction_id,
                stream_name,
            } => named("FCPublish", transaction_id, vec![stream_name.into()]),
            NetCommand::FcUnpublish {
                transaction_id,
                stream_name,
            } => named("FCUnpublish", transaction_id, vec![stream_name.into()]),
            NetCommand::Publish {
                transaction_id,
                stream_name,
                publish_type,
            } => named(
                "publish",
                transaction_id,
                vec![stream_name.into(), publish_type.as_str().into()],
            ),
            NetCommand::Play {
                transaction_id,
                stream_name,
                start,
                duration,
                reset,
            } => named(
                "play",
                transaction_id,
                vec![
                    stream_name.into(),
                    Number(start),
                    Number(duration),
                    reset.into(),
                ],
            ),
            NetCommand::Play2 {
                transaction_id,
                parameters,
            } => named("play2", transaction_id, vec![parameters]),
            NetCommand::Pause {
                transaction_id,
                pause,
                position_ms,
            } => named(
                "pause",
                transaction_id,
                vec![pause.into(), Number(position_ms)],
            ),
            NetCommand::Seek {
                transaction_id,
                position_ms,
            } => named("seek", transaction_id, vec![Number(position_ms)]),
            NetCommand::DeleteStream {
                transaction_id,
                stream_id,
            } => named("deleteStream", transaction_id, vec![Number(stream_id)]),
            NetCommand::CloseStream { transaction_id } => {
                named("closeStream", transaction_id, vec![])
            }
            NetCommand::ReceiveAudio { enable } => named("receiveAudio", 0.0, vec![enable.into()]),
            NetCommand::ReceiveVideo { enable } => named("receiveVideo", 0.0, vec![enable.into()]),
            NetCommand::GetStreamLength {
                transaction_id,
                stream_name,
            } => named("getStreamLength", transaction_id, vec![stream_name.into()]),
            NetCommand::OnBwDone => named("onBWDone", 0.0, vec![]),
            NetCommand::CheckBw { transaction_id } => named("_checkbw", transaction_id, vec![Null]),
            NetCommand::Other(c) => c,
        }
    }

    /// Serializes the command as an AMF0 command message body.
    pub fn encode(self) -> Bytes {
        self.into_command().encode()
    }
}

/// A data message (type 18, or 15 with a leading format byte): a handler name and values,
/// e.g. `@setDataFrame`, `onMetaData`, `{...}` from a publisher.
#[derive(Debug, Clone, PartialEq)]
pub struct DataMessage {
    pub name: String,
    pub values: Vec<Amf0Value>,
}

impl DataMessage {
    /// Parses a data message body.
    pub fn decode(payload: &[u8], amf3: bool, limits: AmfLimits) -> Result<Self, CommandError> {
        let body = if amf3 && payload.first() == Some(&0) {
            &payload[1..]
        } else {
            payload
        };
        let mut values = amf0::decode_all(body, limits)?;
        if values.is_empty() {
            return Err(CommandError::MissingName);
        }
        let name = match values.remove(0) {
            Amf0Value::String(s) | Amf0Value::LongString(s) => s,
            _ => return Err(CommandError::MissingName),
        };
        Ok(DataMessage { name, values })
    }

    /// Serializes the data message body (AMF0).
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(256);
        amf0::encode(&Amf0Value::String(self.name.clone()), &mut out);
        amf0::encode_all(&self.values, &mut out);
        out.into()
    }

    /// The stream metadata this message carries, if it is `@setDataFrame onMetaData {..}`
    /// (what publishers send) or `onMetaData {..}` (what players receive).
    pub fn metadata(&self) -> Option<&Amf0Value> {
        let values = match self.name.as_str() {
            "@setDataFrame" if self.values.first()?.as_str()? == "onMetaData" => &self.values[1..],
            "onMetaData" => &self.values[..],
            _ => return None,
        };
        values.first().filter(|v| v.properties().is_some())
    }

    /// `onMetaData` with the given properties, the form a server relays to players.
    pub fn on_metadata(metadata: Amf0Value) -> Self {
        DataMessage {
            name: "onMetaData".into(),
            values: vec![metadata],
        }
    }

    /// `@setDataFrame onMetaData {..}`, the form a publisher sends.
    pub fn set_data_frame(metadata: Amf0Value) -> Self {
        DataMessage {
            name: "@setDataFrame".into(),
            values: vec!["onMetaData".into(), metadata],
        }
    }
}

#[cfg(test)]
#[path = "command_tests.rs"]
mod tests;
