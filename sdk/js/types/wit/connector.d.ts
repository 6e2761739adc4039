/// <reference path="./interfaces/airlock-connector-log.d.ts" />
/// <reference path="./interfaces/airlock-connector-network.d.ts" />
/// <reference path="./interfaces/airlock-connector-records.d.ts" />
/// <reference path="./interfaces/airlock-connector-source.d.ts" />
/// <reference path="./interfaces/airlock-connector-types.d.ts" />
/// <reference path="./interfaces/wasi-io-error.d.ts" />
/// <reference path="./interfaces/wasi-io-poll.d.ts" />
/// <reference path="./interfaces/wasi-io-streams.d.ts" />
declare module 'airlock:connector/connector@0.1.0' {
  export type * as AirlockConnectorLog010 from 'airlock:connector/log@0.1.0'; // import airlock:connector/log@0.1.0
  export type * as AirlockConnectorNetwork010 from 'airlock:connector/network@0.1.0'; // import airlock:connector/network@0.1.0
  export type * as AirlockConnectorRecords010 from 'airlock:connector/records@0.1.0'; // import airlock:connector/records@0.1.0
  export type * as AirlockConnectorTypes010 from 'airlock:connector/types@0.1.0'; // import airlock:connector/types@0.1.0
  export type * as WasiIoError0212 from 'wasi:io/error@0.2.12'; // import wasi:io/error@0.2.12
  export type * as WasiIoPoll0212 from 'wasi:io/poll@0.2.12'; // import wasi:io/poll@0.2.12
  export type * as WasiIoStreams0212 from 'wasi:io/streams@0.2.12'; // import wasi:io/streams@0.2.12
  export * as source from 'airlock:connector/source@0.1.0'; // export airlock:connector/source@0.1.0
}
